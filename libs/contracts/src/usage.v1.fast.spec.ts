import { describe, expect, it } from 'vitest';
import { attemptSchema, parseUsageEventV1, priceSnapshotSchema, tokenUsageSchema, usageEventV1Schema } from './usage.v1';
import {
  FAST_ATTEMPT_FIELDS,
  FAST_EVENT_FIELDS,
  FAST_PRICE_FIELDS,
  FAST_USAGE_FIELDS,
  isExactUsageEventV1,
} from './usage.v1.fast';

const base = () => ({
  schema: 'usage.v1',
  request_id: 'req_0123456789abcdef',
  occurred_at: '2026-11-26T03:00:00.123Z',
  trace_id: '0123456789abcdef0123456789abcdef',
  key_id: 'key_1',
  account_id: 'acct_1',
  model_requested: 'gpt-4o-mini',
  model_served: 'gpt-4o-mini-2024-07-18',
  channel_id: 'ch_1',
  provider: 'openai',
  route_mode: 'smart',
  stream: true,
  status: 'ok',
  http_status: 200,
  error_class: null,
  attempts: [{ channel_id: 'ch_1', provider: 'openai', status: 200, error_class: null, started_after_ms: 0.3, latency_ms: 812.5, ttft_ms: 120.25 }],
  usage: { input_tokens: 1200, output_tokens: 345, cached_input_tokens: 200, reasoning_tokens: 0 },
  usage_estimated: false,
  ttft_ms: 120.25,
  latency_ms: 812.5,
  tokens_per_second: 497.1,
  price: { input_nano_per_mtok: 150_000_000, output_nano_per_mtok: 600_000_000, cached_input_nano_per_mtok: 75_000_000 },
  cost_nano: 372_000,
});

type Json = Record<string, unknown>;
const ODD_VALUES: unknown[] = [
  undefined, null, '', 'x', 'a'.repeat(65), 'usage.v1', 'ok', 'error', 'transient', 'nope', 0, -0, -1, 1, 1.5, 99, 100, 599, 600, 999, 1000,
  2 ** 53, -(2 ** 53), Infinity, -Infinity, NaN, true, false, [], {}, [{}], '2026-11-26T03:00:00Z', '2026-11-26T03:00:00+01:00',
  '2026-11-26 03:00:00Z', '2026-02-30T00:00:00Z', '2026-11-26T03:00:00', 'ABCDEF0123456789abcdef0123456789', '0123456789abcdef0123456789abcdef',
];

/** Every field (nested ones included) set to every odd value, removed, plus extra fields. */
function variants(): Json[] {
  const out: Json[] = [base()];
  for (const k of FAST_EVENT_FIELDS) {
    for (const v of ODD_VALUES) out.push({ ...base(), [k]: v });
    const e: Json = base();
    delete e[k];
    out.push(e);
  }
  for (const [k, fields] of [['usage', FAST_USAGE_FIELDS], ['price', FAST_PRICE_FIELDS]] as const) {
    for (const f of fields) for (const v of ODD_VALUES) out.push({ ...base(), [k]: { ...base()[k], [f]: v } });
    out.push({ ...base(), [k]: { ...base()[k], extra: 1 } });
  }
  for (const f of FAST_ATTEMPT_FIELDS) for (const v of ODD_VALUES) out.push({ ...base(), attempts: [{ ...base().attempts[0], [f]: v }] });
  out.push({ ...base(), attempts: [{ ...base().attempts[0], extra: 1 }] });
  out.push({ ...base(), attempts: Array.from({ length: 32 }, () => base().attempts[0]) });
  out.push({ ...base(), attempts: Array.from({ length: 33 }, () => base().attempts[0]) });
  // The optional fields: present and valid (fast), and present with odd values (zod decides).
  const delivered = { input_tokens: 5, output_tokens: 2, cached_input_tokens: 0, reasoning_tokens: 0 };
  out.push({ ...base(), lease_ids: ['lease_a', 'lease_b'] });
  out.push({ ...base(), usage: { ...base().usage, cache_write_input_tokens: 3 } });
  out.push({ ...base(), price: { ...base().price, cache_write_nano_per_mtok: 3_750_000_000 } });
  out.push({ ...base(), attempts: [{ ...base().attempts[0], usage: delivered, cost_nano: 12 }] });
  out.push({ ...base(), attempts: [{ ...base().attempts[0], usage: { ...delivered, cache_write_input_tokens: 1 } }] });
  for (const v of ODD_VALUES) {
    out.push({ ...base(), lease_ids: v });
    out.push({ ...base(), lease_ids: [v] });
    out.push({ ...base(), usage: { ...base().usage, cache_write_input_tokens: v } });
    out.push({ ...base(), price: { ...base().price, cache_write_nano_per_mtok: v } });
    out.push({ ...base(), attempts: [{ ...base().attempts[0], usage: v }] });
    out.push({ ...base(), attempts: [{ ...base().attempts[0], usage: { ...delivered, output_tokens: v } }] });
    out.push({ ...base(), attempts: [{ ...base().attempts[0], cost_nano: v }] });
  }
  out.push({ ...base(), lease_ids: Array.from({ length: 9 }, (_, i) => `l${i}`) });
  out.push({ ...base(), lease_ids: ['x'.repeat(65)] });
  out.push({ ...base(), attempts: [{ ...base().attempts[0], usage: { ...delivered, extra: 1 } }] });
  out.push({ ...base(), future_optional_field: 'x' });
  out.push({ ...base(), __proto__: { injected: 1 } } as Json);
  out.push(JSON.parse(JSON.stringify(base()).replace('"cost_nano":372000', '"cost_nano":1e999')) as Json);
  return out;
}

describe('the fast usage.v1 check', () => {
  it('covers exactly the fields of the zod schemas', () => {
    expect([...FAST_EVENT_FIELDS].sort()).toEqual(Object.keys(usageEventV1Schema.shape).sort());
    expect([...FAST_ATTEMPT_FIELDS].sort()).toEqual(Object.keys(attemptSchema.shape).sort());
    expect([...FAST_USAGE_FIELDS].sort()).toEqual(Object.keys(tokenUsageSchema.shape).sort());
    expect([...FAST_PRICE_FIELDS].sort()).toEqual(Object.keys(priceSnapshotSchema.shape).sort());
  });

  it('accepts only what zod accepts, and then zod would return an equal event', () => {
    let fast = 0;
    let rejected = 0;
    for (const v of variants()) {
      const z = usageEventV1Schema.safeParse(v);
      if (isExactUsageEventV1(v)) {
        fast++;
        expect(z.success, JSON.stringify(v)).toBe(true);
        expect(v).toEqual(z.data);
      }
      if (!z.success) rejected++;
    }
    // Both kinds were exercised: many valid variants take the fast path, many are invalid.
    expect(fast).toBeGreaterThan(20);
    expect(rejected).toBeGreaterThan(300);
  });

  it('takes every valid event with exactly the schema fields (no silent fall back to zod)', () => {
    for (const v of variants()) {
      const z = usageEventV1Schema.safeParse(v);
      const plain = Object.getPrototypeOf(v) === Object.prototype;
      if (plain && z.success && JSON.stringify(z.data) === JSON.stringify(v) && Object.keys(v).every((k) => (FAST_EVENT_FIELDS as readonly string[]).includes(k))) {
        // Events come from JSON: a key present with `undefined` cannot occur, so judge the JSON form.
        expect(isExactUsageEventV1(JSON.parse(JSON.stringify(v))), JSON.stringify(v)).toBe(true);
      }
    }
  });

  it('leaves the dead-letter reasons to zod', () => {
    expect(parseUsageEventV1({ ...base(), http_status: 42 })).toEqual({ ok: false, reason: expect.stringContaining('http_status') });
    expect(parseUsageEventV1({ ...base(), occurred_at: 'yesterday' })).toEqual({ ok: false, reason: expect.stringContaining('occurred_at') });
    // A field added later (optional) still validates, through zod, which strips it.
    const later = parseUsageEventV1({ ...base(), future_optional_field: 'x' });
    expect(later).toEqual({ ok: true, value: base() });
  });
});
