import { attemptSchema, errorClassSchema, usageEventV1Schema, type UsageEventV1 } from './usage.v1';

/*
 * A hand-compiled check of usage.v1 for the consumers' hot path (stats
 * ingests tens of thousands of events a second; zod costs ~9 µs an event).
 * It only ever says "valid, and exactly the schema's fields": then the
 * parsed JSON is returned as is, which is what zod would have returned. Any
 * other event (invalid, or carrying a field this check does not know, e.g.
 * one added to the schema later) goes through zod, so the contract and the
 * dead-letter reasons are zod's, unchanged. usage.v1.fast.spec.ts holds
 * both paths to the same answers.
 */

// Read from the schemas at the first call (usage.v1.ts imports this module before it defines them).
let ERROR_CLASSES: ReadonlySet<unknown> | undefined;
/** The very pattern zod checks `occurred_at` with. */
let DATETIME: RegExp | undefined;
const TRACE_ID = /^[0-9a-f]{32}$/;
const MAX_ATTEMPTS = 32;

/** Field names the fast check covers; the spec asserts they equal the zod shapes'. */
export const FAST_EVENT_FIELDS = [
  'schema', 'request_id', 'occurred_at', 'trace_id', 'key_id', 'account_id', 'model_requested', 'model_served',
  'channel_id', 'provider', 'route_mode', 'stream', 'status', 'http_status', 'error_class', 'attempts', 'usage',
  'usage_estimated', 'ttft_ms', 'latency_ms', 'tokens_per_second', 'price', 'cost_nano', 'lease_ids',
] as const;
export const FAST_ATTEMPT_FIELDS = ['channel_id', 'provider', 'status', 'error_class', 'started_after_ms', 'latency_ms', 'ttft_ms', 'usage', 'cost_nano'] as const;
export const FAST_USAGE_FIELDS = ['input_tokens', 'output_tokens', 'cached_input_tokens', 'reasoning_tokens', 'cache_write_input_tokens'] as const;
export const FAST_PRICE_FIELDS = ['input_nano_per_mtok', 'output_nano_per_mtok', 'cached_input_nano_per_mtok', 'cache_write_nano_per_mtok'] as const;
/** How many fields of each object are required (the optional ones are counted when present). */
const REQUIRED = { event: 23, attempt: 7, usage: 4, price: 3 } as const;
const MAX_LEASES = 8;

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
/** zod's z.number() rejects NaN and ±Infinity (JSON.parse gives Infinity for 1e999). */
const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
/** zod 4's .int() is a safe integer. */
const int = (v: unknown): v is number => Number.isSafeInteger(v);
const nonNegInt = (v: unknown) => int(v) && v >= 0;
const millis = (v: unknown) => num(v) && v >= 0;
const str = (v: unknown): v is string => typeof v === 'string';
const nonEmpty = (v: unknown) => str(v) && v.length >= 1;

/** True when `o` has exactly `n` own keys (the caller checked the n known ones exist). */
function keyCount(o: Obj, n: number): boolean {
  let k = 0;
  for (const _ in o) if (++k > n) return false;
  return k === n;
}

function attemptOk(a: unknown): boolean {
  return (
    isObj(a) &&
    nonEmpty(a.channel_id) &&
    nonEmpty(a.provider) &&
    int(a.status) &&
    a.status >= 0 &&
    a.status <= 999 &&
    (a.error_class === null || ERROR_CLASSES!.has(a.error_class)) &&
    millis(a.started_after_ms) &&
    millis(a.latency_ms) &&
    (a.ttft_ms === null || millis(a.ttft_ms)) &&
    (a.usage === undefined || usageOk(a.usage)) &&
    (a.cost_nano === undefined || nonNegInt(a.cost_nano)) &&
    keyCount(a, REQUIRED.attempt + present(a.usage) + present(a.cost_nano))
  );
}

/** An optional field counts towards the key count when it is there (a present `undefined` cannot come from JSON). */
const present = (v: unknown): number => (v === undefined ? 0 : 1);

function leaseIdsOk(v: unknown): boolean {
  if (!Array.isArray(v) || v.length > MAX_LEASES) return false;
  for (const id of v) if (!nonEmpty(id) || (id as string).length > 64) return false;
  return true;
}

function attemptsOk(v: unknown): boolean {
  if (!Array.isArray(v) || v.length > MAX_ATTEMPTS) return false;
  for (const a of v) if (!attemptOk(a)) return false;
  return true;
}

function usageOk(u: unknown): boolean {
  return (
    isObj(u) &&
    nonNegInt(u.input_tokens) &&
    nonNegInt(u.output_tokens) &&
    nonNegInt(u.cached_input_tokens) &&
    nonNegInt(u.reasoning_tokens) &&
    (u.cache_write_input_tokens === undefined || nonNegInt(u.cache_write_input_tokens)) &&
    keyCount(u, REQUIRED.usage + present(u.cache_write_input_tokens))
  );
}

function priceOk(p: unknown): boolean {
  return (
    isObj(p) &&
    nonNegInt(p.input_nano_per_mtok) &&
    nonNegInt(p.output_nano_per_mtok) &&
    nonNegInt(p.cached_input_nano_per_mtok) &&
    (p.cache_write_nano_per_mtok === undefined || nonNegInt(p.cache_write_nano_per_mtok)) &&
    keyCount(p, REQUIRED.price + present(p.cache_write_nano_per_mtok))
  );
}

/**
 * True only when `raw` is a valid usage.v1 event with no field beyond the
 * schema's (so zod would return an equal object). False means "ask zod".
 */
export function isExactUsageEventV1(raw: unknown): raw is UsageEventV1 {
  if (!isObj(raw)) return false;
  if (!DATETIME) {
    ERROR_CLASSES = new Set(errorClassSchema.options);
    DATETIME = (usageEventV1Schema.shape.occurred_at as unknown as { _zod: { pattern: RegExp } })._zod.pattern;
  }
  const e = raw;
  return (
    e.schema === 'usage.v1' &&
    nonEmpty(e.request_id) &&
    (e.request_id as string).length <= 64 &&
    str(e.occurred_at) &&
    DATETIME.test(e.occurred_at) &&
    (e.trace_id === null || (str(e.trace_id) && TRACE_ID.test(e.trace_id))) &&
    nonEmpty(e.key_id) &&
    nonEmpty(e.account_id) &&
    nonEmpty(e.model_requested) &&
    str(e.model_served) &&
    str(e.channel_id) &&
    str(e.provider) &&
    nonEmpty(e.route_mode) &&
    typeof e.stream === 'boolean' &&
    (e.status === 'ok' || e.status === 'error') &&
    int(e.http_status) &&
    e.http_status >= 100 &&
    e.http_status <= 599 &&
    (e.error_class === null || ERROR_CLASSES!.has(e.error_class)) &&
    attemptsOk(e.attempts) &&
    usageOk(e.usage) &&
    typeof e.usage_estimated === 'boolean' &&
    (e.ttft_ms === null || millis(e.ttft_ms)) &&
    millis(e.latency_ms) &&
    (e.tokens_per_second === null || millis(e.tokens_per_second)) &&
    priceOk(e.price) &&
    nonNegInt(e.cost_nano) &&
    (e.lease_ids === undefined || leaseIdsOk(e.lease_ids)) &&
    keyCount(e, REQUIRED.event + present(e.lease_ids))
  );
}

/** For the spec: the zod object shapes the fast check mirrors. */
export function mirroredShapes() {
  return { event: usageEventV1Schema.shape, attempt: attemptSchema.shape };
}
