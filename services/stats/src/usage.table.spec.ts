import { describe, expect, it } from 'vitest';
import type { UsageEventV1 } from '@switchyard/contracts';
import { USAGE_INSERT_COLUMNS, toStoredUsage, toUsageRow, tsvString, usageRowsTsv } from './usage.table';

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

  it('split every ISO form of occurred_at the same way, cut or parsed', () => {
    const viaDate = (iso: string) => {
      const at = new Date(iso);
      const p = (n: number) => String(n).padStart(2, '0');
      const date = `${at.getUTCFullYear()}-${p(at.getUTCMonth() + 1)}-${p(at.getUTCDate())}`;
      return { occurred_at: `${date} ${p(at.getUTCHours())}:${p(at.getUTCMinutes())}:${p(at.getUTCSeconds())}`, occurred_at_ms: at.getUTCMilliseconds(), event_date: date };
    };
    for (const iso of ['2025-02-01T01:59:59.987Z', '2025-12-31T23:59:59Z', '2024-02-29T00:00:00.000Z', '2025-02-01T01:59:59.1Z', '2025-02-01T01:59:59.123456Z', '2025-02-01T00:30:00.250+01:00', '2025-01-01T23:00:00-02:00']) {
      expect(toUsageRow({ ...event, occurred_at: iso }, '2025-02-01 02:00:00'), iso).toMatchObject(viaDate(iso));
    }
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

  it('go to ClickHouse as TabSeparated: every column once, in order, escaped, NULL as \\N', () => {
    const row = toUsageRow({ ...event, model_served: 'a\tb\nc\\d\re' }, new Date('2025-02-01T02:00:00Z'));
    expect([...USAGE_INSERT_COLUMNS].sort()).toEqual(Object.keys(row).sort());
    const body = usageRowsTsv([row, row]);
    const lines = body.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    const fields = lines[0]!.split('\t');
    expect(fields).toHaveLength(USAGE_INSERT_COLUMNS.length);
    const at = (c: (typeof USAGE_INSERT_COLUMNS)[number]) => fields[USAGE_INSERT_COLUMNS.indexOf(c)];
    expect(at('model_served')).toBe('a\\tb\\nc\\\\d\\re');
    expect(at('ttft_ms')).toBe('\\N');
    expect(at('tokens_per_second')).toBe('\\N');
    expect(at('cache_write_input_tokens')).toBe(String(row.cache_write_input_tokens));
    expect(at('cost_nano')).toBe(String(Number.MAX_SAFE_INTEGER));
    expect(at('occurred_at')).toBe('2025-02-01 01:59:59');
    expect(at('attempts')).toBe(tsvString(row.attempts));
    expect(tsvString('plain')).toBe('plain');
  });
});
