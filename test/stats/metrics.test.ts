import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream } from '@nats-io/jetstream';
import { UsagePublisher, type NatsConnection } from '@switchyard/bus';
import type { ClickHouseClient } from '@switchyard/clickhouse';
import { STATS_CONSUMER, USAGE_STREAM, USAGE_SUBJECT_V1 } from '@switchyard/contracts';
import { createLogger } from '@switchyard/telemetry';
import { startStats, type StatsHandle } from '../../services/stats/src/stats.app';
import { createStatsMetrics } from '../../services/stats/src/stats.metrics';
import { countRows, resetClickHouse } from '../support/clickhouse';
import { resetUsageBus, usageEvent, waitFor } from './helpers';

let ch: ClickHouseClient;
let nc: NatsConnection;
let stats: StatsHandle;

/** The value of one series of a scrape (labels in any order), 0 when absent. */
function value(body: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries({ ...labels, service: 'stats' })
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(',');
  for (const line of body.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const set = line.slice(name.length + 1, line.lastIndexOf('}')).split(',').sort().join(',');
    if (set === want) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

async function scrape(): Promise<{ type: string | null; body: string }> {
  const r = await fetch(`${stats.url}/metrics`);
  expect(r.status).toBe(200);
  return { type: r.headers.get('content-type'), body: await r.text() };
}

const CH = { sink: 'clickhouse' };

beforeAll(async () => {
  ch = await resetClickHouse();
  nc = await resetUsageBus();
  stats = await startStats({
    logger: createLogger('stats-test', 'silent'),
    // No process metrics: several stats instances share this test process.
    metrics: createStatsMetrics({ defaultMetrics: false }),
    config: { port: 0, host: '127.0.0.1', batchWaitMs: 1000, lagPollMs: 200 },
  });
});
afterAll(async () => {
  await stats?.close();
  await nc?.drain();
  await ch?.close();
});

describe('stats /metrics', () => {
  it('moves rows inserted by N after N usage events, counts the duplicates and dead letters, and shows the lag drained', async () => {
    const before = (await scrape()).body;
    const N = 37;
    const publisher = new UsagePublisher(nc);
    const events = Array.from({ length: N }, () => usageEvent());
    for (const e of events) publisher.publish(e);
    expect(await publisher.flush()).toBe(true);
    await waitFor('N rows', async () => (await countRows(ch, 'usage_events')) === N);

    // A redelivered copy (new message id, same request id) and an invalid event.
    const js = jetstream(nc);
    await js.publish(USAGE_SUBJECT_V1, JSON.stringify(events[0]), { msgID: `again-${events[0]!.request_id}` });
    await js.publish(USAGE_SUBJECT_V1, '{"schema":"usage.v1"}', { msgID: `bad-${events[1]!.request_id}` });

    const after = await waitFor('metrics of the duplicate and the dead letter', async () => {
      const s = (await scrape()).body;
      return value(s, 'switchyard_ingest_duplicates_dropped_total', CH) >= 1 && value(s, 'switchyard_ingest_dead_letters_total', CH) >= 1
        ? s
        : undefined;
    });
    const delta = (name: string, labels: Record<string, string> = CH) => value(after, name, labels) - value(before, name, labels);
    expect(delta('switchyard_ingest_rows_inserted_total')).toBe(N);
    expect(delta('switchyard_ingest_duplicates_dropped_total')).toBe(1);
    expect(delta('switchyard_ingest_dead_letters_total')).toBe(1);
    expect(delta('switchyard_ingest_insert_failures_total')).toBe(0);
    // Every valid event went through a batch (N plus the duplicate); each batch timed once.
    expect(delta('switchyard_ingest_batch_size_sum')).toBe(N + 1);
    expect(delta('switchyard_ingest_insert_duration_seconds_count', { ...CH, outcome: 'ok' })).toBe(
      delta('switchyard_ingest_batch_size_count'),
    );
    expect(await countRows(ch, 'usage_events')).toBe(N);

    // The lag poller sees the consumer caught up.
    await waitFor('lag at zero', async () => {
      const s = (await scrape()).body;
      const l = { stream: USAGE_STREAM, consumer: STATS_CONSUMER };
      return s.includes('switchyard_jetstream_consumer_pending_messages{') &&
        value(s, 'switchyard_jetstream_consumer_pending_messages', l) === 0 &&
        value(s, 'switchyard_jetstream_consumer_ack_pending_messages', l) === 0;
    });
  });

  it('serves the Prometheus text format and counts HTTP requests by route template', async () => {
    const before = (await scrape()).body;
    for (const id of ['a', 'b', 'c']) expect((await fetch(`${stats.url}/v1/stats/requests/${id}`)).status).toBe(404);
    const { type, body } = await scrape();
    expect(type).toMatch(/^text\/plain; version=0\.0\.4/);
    const labels = { method: 'GET', route: '/v1/stats/requests/:requestId', status_class: '4xx' };
    expect(value(body, 'switchyard_http_requests_total', labels) - value(before, 'switchyard_http_requests_total', labels)).toBe(3);
    expect(body).not.toMatch(/route="\/v1\/stats\/requests\/a"/);
    expect(value(body, 'switchyard_http_requests_in_flight', { method: 'GET' })).toBe(0);
  });
});
