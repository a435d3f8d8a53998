import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@switchyard/bus';
import type { ClickHouseClient } from '@switchyard/clickhouse';
import { createLogger } from '@switchyard/telemetry';
import { startStats, type StatsHandle } from '../../services/stats/src/stats.app';
import { storeUsageBatch } from '../../services/stats/src/usage.repository';
import { resetClickHouse } from '../support/clickhouse';
import { resetUsageBus, usageEvent } from './helpers';

let ch: ClickHouseClient;
let nc: NatsConnection;
let stats: StatsHandle;

const now = Date.now();
const from = new Date(now - 30 * 60_000).toISOString();
const to = new Date(now + 60_000).toISOString();
const minutesAgo = (m: number) => new Date(now - m * 60_000).toISOString();
// Made up so no other suite sharing the bus writes the same dimensions.
const CHANNEL = `chan-${now}`;
const OTHER_CHANNEL = `other-${now}`;
const ODD_ACCOUNT = `acc'o\\unt ${now}`;

const ok = (latency_ms: number, ttft_ms: number | null, minutes = 5) =>
  usageEvent({
    channel_id: CHANNEL,
    occurred_at: minutesAgo(minutes),
    latency_ms,
    ttft_ms,
    usage: { input_tokens: 100, output_tokens: 10, cached_input_tokens: 0, reasoning_tokens: 0 },
    cost_nano: 1_000,
  });

const seeded = {
  ok: [ok(100, 10), ok(200, 20), ok(300, 30), ok(300, 40), ok(400, 50), ok(500, null)],
  error: usageEvent({
    channel_id: CHANNEL,
    occurred_at: minutesAgo(1),
    status: 'error',
    http_status: 502,
    error_class: 'transient',
    latency_ms: 5,
    ttft_ms: null,
    tokens_per_second: null,
    usage: { input_tokens: 0, output_tokens: 0, cached_input_tokens: 0, reasoning_tokens: 0 },
    cost_nano: 0,
  }),
  // Outside the default and the explicit window.
  old: { ...ok(50, 5, 120) },
  other: usageEvent({ channel_id: OTHER_CHANNEL, account_id: ODD_ACCOUNT, model_requested: "o'model", occurred_at: minutesAgo(2) }),
};

async function get(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${stats.url}${path}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
const q = (params: Record<string, string>) => new URLSearchParams(params).toString();

beforeAll(async () => {
  ch = await resetClickHouse();
  nc = await resetUsageBus();
  stats = await startStats({ logger: createLogger('stats-test', 'silent'), config: { port: 0, host: '127.0.0.1' } });
  await storeUsageBatch(ch, [...seeded.ok, seeded.error, seeded.old, seeded.other], new Date());
});
afterAll(async () => {
  await stats?.close();
  await nc?.drain();
  await ch?.close();
});

describe('GET /v1/stats/summary', () => {
  it('sums requests, errors, tokens and cost, with latency and TTFT percentiles of successful requests', async () => {
    const { status, body } = await get(`/v1/stats/summary?${q({ channel_id: CHANNEL, from, to })}`);
    expect(status).toBe(200);
    expect(body).toEqual({
      requests: 7,
      errors: 1,
      input_tokens: 600,
      output_tokens: 60,
      cost_nano: 6_000,
      p50_latency_ms: 300,
      p95_latency_ms: 500,
      // The request without a first token is skipped, not counted as 0.
      p50_ttft_ms: 30,
      p95_ttft_ms: 50,
      errors_by_class: { transient: 1 },
      avg_tokens_per_second: 497.1,
      source: 'raw',
      from,
      to,
    });
  });

  it('covers the last hour by default', async () => {
    const { body } = await get(`/v1/stats/summary?${q({ channel_id: CHANNEL })}`);
    expect(body).toMatchObject({ requests: 7, errors: 1 });
  });

  it('honours the window to the millisecond', async () => {
    const first = seeded.ok[0]!.occurred_at;
    const justAfter = new Date(new Date(first).getTime() + 1).toISOString();
    expect((await get(`/v1/stats/summary?${q({ channel_id: CHANNEL, from: first, to: justAfter })}`)).body.requests).toBe(6);
    expect((await get(`/v1/stats/summary?${q({ channel_id: CHANNEL, from: justAfter, to })}`)).body.requests).toBe(1);
    const older = (await get(`/v1/stats/summary?${q({ channel_id: CHANNEL, from: minutesAgo(180), to: minutesAgo(60) })}`)).body;
    expect(older).toMatchObject({ requests: 1, p50_latency_ms: 50 });
  });

  it('filters by account and model, quotes included, and answers zeros and nulls for no match', async () => {
    const odd = await get(`/v1/stats/summary?${q({ account_id: ODD_ACCOUNT, model: "o'model", from, to })}`);
    expect(odd.body).toMatchObject({ requests: 1, cost_nano: seeded.other.cost_nano, p50_latency_ms: seeded.other.latency_ms });
    const none = await get(`/v1/stats/summary?${q({ channel_id: CHANNEL, key_id: "nobody' OR 1=1 --", from, to })}`);
    expect(none.body).toEqual({
      requests: 0,
      errors: 0,
      input_tokens: 0,
      output_tokens: 0,
      cost_nano: 0,
      p50_latency_ms: null,
      p95_latency_ms: null,
      p50_ttft_ms: null,
      p95_ttft_ms: null,
      errors_by_class: {},
      avg_tokens_per_second: null,
      source: 'raw',
      from,
      to,
    });
  });

  it.each([
    ['a malformed time', { from: 'yesterday' }, /from/],
    ['from after to', { from: to, to: from }, /before/],
    ['an unknown parameter', { chanel_id: 'x' }, /chanel_id/],
    ['an empty filter', { channel_id: '' }, /channel_id/],
  ])('answers 400 in the OpenAI error shape for %s', async (_name, params, message) => {
    const { status, body } = await get(`/v1/stats/summary?${q(params as Record<string, string>)}`);
    expect(status).toBe(400);
    expect(body).toEqual({ error: { message: expect.stringMatching(message), type: 'invalid_request_error', code: 'invalid_parameter' } });
  });
});

describe('GET /v1/stats/requests/:requestId', () => {
  it('returns the stored row', async () => {
    const e = seeded.error;
    const { status, body } = await get(`/v1/stats/requests/${e.request_id}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      request_id: e.request_id,
      occurred_at: e.occurred_at,
      trace_id: e.trace_id,
      account_id: e.account_id,
      channel_id: CHANNEL,
      status: 'error',
      http_status: 502,
      error_class: 'transient',
      stream: true,
      usage_estimated: false,
      ttft_ms: null,
      tokens_per_second: null,
      latency_ms: 5,
      cost_nano: 0,
      price_output_nano_per_mtok: 600_000_000,
      attempts: e.attempts,
      attempt_count: 1,
    });
  });

  it('answers 404 in the OpenAI error shape for an unknown id', async () => {
    const { status, body } = await get(`/v1/stats/requests/${encodeURIComponent("nope' OR '1'='1")}`);
    expect(status).toBe(404);
    expect(body).toEqual({
      error: { message: expect.stringContaining('nope'), type: 'invalid_request_error', code: 'request_not_found' },
    });
  });

  it('answers unknown routes with the same error shape', async () => {
    const { status, body } = await get('/v1/stats/nothing-here');
    expect(status).toBe(404);
    expect(body).toEqual({ error: { message: 'not found', type: 'invalid_request_error', code: 'not_found' } });
  });
});

describe('health', () => {
  it('is live and ready when ClickHouse and NATS answer', async () => {
    expect(await get('/healthz')).toEqual({ status: 200, body: { status: 'ok' } });
    expect(await get('/readyz')).toEqual({ status: 200, body: { status: 'ok', clickhouse: 'ok', nats: 'ok' } });
  });
});
