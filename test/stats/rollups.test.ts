import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareVersions, runMigrations, serverVersion, type ClickHouseClient } from '@switchyard/clickhouse';
import type { NatsConnection } from '@switchyard/bus';
import { createLogger } from '@switchyard/telemetry';
import { startStats, type StatsHandle } from '../../services/stats/src/stats.app';
import { ROLLUPS, statsMigrations } from '../../services/stats/src/stats.migrations';
import { summarizeUsage, type SummaryFilter } from '../../services/stats/src/usage.queries';
import { insertPlannedBatch, storeUsageBatch } from '../../services/stats/src/usage.repository';
import { toUsageRow } from '../../services/stats/src/usage.table';
import { dropExpiredUsagePartitions } from '../../services/stats/src/usage.retention';
import { countRows, resetClickHouse, selectRows } from '../support/clickhouse';
import { resetUsageBus, usageEvent } from './helpers';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const now = Date.now();
const at = (msAgo: number) => new Date(now - msAgo).toISOString();

let ch: ClickHouseClient;
let nc: NatsConnection;
let stats: StatsHandle;

// Spread over two days, two channels, two accounts, successes and errors: 7 events with the ancient one.
const early = [
  usageEvent({ occurred_at: at(30 * HOUR), channel_id: 'slow', account_id: 'acme', latency_ms: 900, ttft_ms: 300, cost_nano: 1_000 }),
  usageEvent({ occurred_at: at(20 * HOUR), channel_id: 'fast', account_id: 'acme', latency_ms: 100, ttft_ms: 10, cost_nano: 2_000 }),
];
const later = [
  usageEvent({ occurred_at: at(10 * HOUR), channel_id: 'fast', account_id: 'beta', latency_ms: 200, ttft_ms: 20, cost_nano: 3_000 }),
  usageEvent({
    occurred_at: at(5 * HOUR),
    channel_id: 'fast',
    account_id: 'acme',
    status: 'error',
    http_status: 429,
    error_class: 'rate_limit',
    ttft_ms: null,
    tokens_per_second: null,
    latency_ms: 5,
    cost_nano: 0,
  }),
  usageEvent({ occurred_at: at(2 * HOUR), channel_id: 'fast', account_id: 'acme', latency_ms: 300, ttft_ms: 30, cost_nano: 4_000 }),
  usageEvent({ occurred_at: at(1 * MIN), channel_id: 'slow', account_id: 'beta', status: 'error', http_status: 503, error_class: 'transient', latency_ms: 50, cost_nano: 0 }),
];
// Older than the retention: dropped from the raw table, kept in the rollups.
const ancient = usageEvent({ occurred_at: at(500 * DAY), channel_id: 'fast', account_id: 'acme', cost_nano: 7_000 });

beforeAll(async () => {
  ch = await resetClickHouse();
  nc = await resetUsageBus();
  // The schema before 0002, with rows already in it: 0002 must backfill them.
  await runMigrations(ch, statsMigrations().slice(0, 1));
  // Today's row shape carries the cache-write column (a later migration, idempotent): give the old table it.
  await ch.command({ query: 'ALTER TABLE usage_events ADD COLUMN cache_write_input_tokens UInt32 DEFAULT 0' });
  // Written as the service of that time did (its duplicate check read usage_events; the index table came later).
  const before = new Date(now - 2 * MIN);
  await insertPlannedBatch(ch, { rows: [...early, ancient].map((e) => toUsageRow(e, before)), duplicates: [] });
  stats = await startStats({ logger: createLogger('stats-test', 'silent'), config: { port: 0, host: '127.0.0.1', retentionDays: 400 } });
  await storeUsageBatch(ch, later, new Date());
});
afterAll(async () => {
  await stats?.close();
  await nc?.drain();
  await ch?.close();
});

const window: Pick<SummaryFilter, 'from' | 'to'> = { from: new Date(now - 2 * DAY), to: new Date(now + MIN) };

describe('per-minute rollups', () => {
  it('hold the rows stored before the migration and after it, once each', async () => {
    for (const r of Object.values(ROLLUPS)) {
      const [row] = await selectRows<{ n: string; cost: string }>(
        ch,
        `SELECT countMerge(requests) AS n, sumMerge(cost_nano) AS cost FROM ${r.table}`,
      );
      expect({ table: r.table, n: Number(row!.n), cost: Number(row!.cost) }).toEqual({ table: r.table, n: 7, cost: 17_000 });
    }
  });

  it.each([
    ['a channel', { channelId: 'fast' }],
    ['an account', { accountId: 'acme' }],
    ['a key and a model', { keyId: 'key_ci', model: 'gpt-4o-mini' }],
    ['everything', {}],
  ])('answer a long window for %s with the same figures as the raw table', async (_name, filter) => {
    const f = { ...window, ...filter };
    const raw = await summarizeUsage(ch, f, { rollupMinWindowMs: Infinity });
    const rolled = await summarizeUsage(ch, f, { rollupMinWindowMs: 0 });
    expect(raw.source).toBe('raw');
    expect(rolled.source).toBe('rollup_1m');
    expect(raw.requests).toBeGreaterThan(0);
    const exact = (s: typeof raw) => ({
      requests: s.requests,
      errors: s.errors,
      errors_by_class: s.errors_by_class,
      input_tokens: s.input_tokens,
      output_tokens: s.output_tokens,
      cost_nano: s.cost_nano,
      avg_tokens_per_second: s.avg_tokens_per_second,
    });
    expect(exact(rolled)).toEqual(exact(raw));
    // t-digest merged from per-minute states: same answers on sets this small.
    expect(rolled.p50_latency_ms).toBeCloseTo(raw.p50_latency_ms!, 0);
    expect(rolled.p95_ttft_ms).toBeCloseTo(raw.p95_ttft_ms!, 0);
  });

  it('serve long windows through the API, over whole minutes, with errors by class', async () => {
    const q = new URLSearchParams({ channel_id: 'fast', from: window.from.toISOString(), to: window.to.toISOString() });
    const body = (await (await fetch(`${stats.url}/v1/stats/summary?${q}`)).json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      source: 'rollup_1m',
      requests: 4,
      errors: 1,
      errors_by_class: { rate_limit: 1 },
      cost_nano: 9_000,
      p50_ttft_ms: 20,
    });
    expect(new Date(body.from as string).getTime() % MIN).toBe(0);
    expect(new Date(body.to as string).getTime() % MIN).toBe(0);
    // A short window still reads the raw table, exact to the millisecond.
    const short = new URLSearchParams({ channel_id: 'slow', from: at(10 * MIN), to: at(0) });
    expect(await (await fetch(`${stats.url}/v1/stats/summary?${short}`)).json()).toMatchObject({
      source: 'raw',
      requests: 1,
      errors_by_class: { transient: 1 },
    });
  });
});

describe('the duplicate check after the migrations', () => {
  it('knows the rows stored before its index table existed', async () => {
    expect(await storeUsageBatch(ch, [early[0]!, later[0]!], new Date())).toEqual({
      inserted: [],
      duplicates: [early[0]!.request_id, later[0]!.request_id],
    });
  });
});

describe('retention of raw usage', () => {
  it('uses a table TTL where the server has one, and drops expired months everywhere, keeping the rollups', async () => {
    const [create] = await selectRows<{ statement: string }>(ch, 'SHOW CREATE TABLE usage_events');
    const version = await serverVersion(ch);
    if (compareVersions(version, '19.6') >= 0) expect(create!.statement).toMatch(/TTL event_date \+ toIntervalDay\(400\)/);
    else expect(create!.statement).not.toMatch(/TTL/);

    // The service ran retention when it started: the 500-day-old row is gone from the raw table…
    expect(await countRows(ch, 'usage_events', `request_id = '${ancient.request_id}'`)).toBe(0);
    expect(await countRows(ch, 'usage_events')).toBe(6);
    // …and another one stored now goes at the next run.
    const another = usageEvent({ occurred_at: at(450 * DAY) });
    await storeUsageBatch(ch, [another], new Date());
    expect(await countRows(ch, 'usage_events', `request_id = '${another.request_id}'`)).toBe(1);
    const dropped = await dropExpiredUsagePartitions(ch, 400, new Date(now));
    expect(dropped).toEqual([another.occurred_at.slice(0, 7).replace('-', '')]);
    expect(await countRows(ch, 'usage_events', `request_id = '${another.request_id}'`)).toBe(0);
    expect(await countRows(ch, 'usage_events')).toBe(6);
    // The duplicate check's index loses the same months.
    for (const e of [ancient, another]) expect(await countRows(ch, 'usage_request_ids', `request_id = '${e.request_id}'`)).toBe(0);
    // The rollups keep the history, the dropped rows included.
    const [kept] = await selectRows<{ n: string }>(ch, `SELECT countMerge(requests) AS n FROM ${ROLLUPS.account.table}`);
    expect(Number(kept!.n)).toBe(8);
    // Nothing more to drop the second time.
    expect(await dropExpiredUsagePartitions(ch, 400, new Date(now))).toEqual([]);
  });
});
