import { describe, expect, it } from 'vitest';
import type { UsageEventV1 } from '@switchyard/contracts';
import { toStoredUsage, toUsageRow } from './usage.table';

const event: UsageEventV1 = {
  schema: 'usage.v1',
  request_id: 'req_1',
  occurred_at: '2025-01-31T23:59:59.987-02:00',
  trace_id: null,
  key_id: 'key_1',
  account_id: 'acme',
  model_requested: 'gpt-4o-mini',
  model_served: '',
  channel_id: '',
  provider: '',
  route_mode: 'fallback',
  stream: false,
  status: 'error',
  http_status: 503,
  error_class: 'timeout',
  attempts: [
    { channel_id: 'a', provider: 'openai', status: 0, error_class: 'timeout', started_after_ms: 0, latency_ms: 30000, ttft_ms: null },
  ],
  usage: { input_tokens: 0, output_tokens: 0, cached_input_tokens: 0, reasoning_tokens: 0 },
  usage_estimated: true,
  ttft_ms: null,
  latency_ms: 30001.5,
  tokens_per_second: null,
  price: { input_nano_per_mtok: 1, output_nano_per_mtok: 2, cached_input_nano_per_mtok: 3 },
  cost_nano: Number.MAX_SAFE_INTEGER,
};

describe('usage_events rows', () => {
  it('store the time as UTC seconds plus milliseconds, with the UTC day', () => {
    const row = toUsageRow(event, new Date('2025-02-01T02:00:00.500Z'));
    expect(row).toMatchObject({
      occurred_at: '2025-02-01 01:59:59',
      occurred_at_ms: 987,
      event_date: '2025-02-01',
      inserted_at: '2025-02-01 02:00:00',
    });
  });

  it('turn null strings into empty ones but keep null measurements null', () => {
    const row = toUsageRow(event, new Date());
    expect(row).toMatchObject({ trace_id: '', error_class: 'timeout', ttft_ms: null, tokens_per_second: null });
    expect(toUsageRow({ ...event, error_class: null }, new Date()).error_class).toBe('');
  });

  it('flatten usage and price, flags as 0/1, attempts as JSON with their count', () => {
    const row = toUsageRow(event, new Date());
    expect(row).toMatchObject({
      stream: 0,
      usage_estimated: 1,
      input_tokens: 0,
      price_input_nano_per_mtok: 1,
      price_output_nano_per_mtok: 2,
      price_cached_input_nano_per_mtok: 3,
      cost_nano: Number.MAX_SAFE_INTEGER,
      attempt_count: 1,
    });
    expect(JSON.parse(row.attempts)).toEqual(event.attempts);
  });

  it('read back as JSON-native values, 64-bit strings included', () => {
    const row = toUsageRow(event, new Date('2025-02-01T02:00:00Z'));
    const selected = { ...row, cost_nano: String(row.cost_nano), price_input_nano_per_mtok: '1' };
    const stored = toStoredUsage(selected);
    expect(stored).toMatchObject({
      occurred_at: '2025-02-01T01:59:59.987Z',
      inserted_at: '2025-02-01T02:00:00.000Z',
      stream: false,
      usage_estimated: true,
      cost_nano: Number.MAX_SAFE_INTEGER,
      price_input_nano_per_mtok: 1,
      attempts: event.attempts,
    });
    expect(() => toStoredUsage({ ...selected, cost_nano: '9007199254740993' })).toThrow(/exact range/);
  });
});
