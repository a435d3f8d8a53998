import { z } from 'zod';
// Circular on purpose: the fast check reads the schemas below lazily, at its first call.
import { isExactUsageEventV1 } from './usage.v1.fast';

/** Integer nano-USD: money is never a float. Safe-integer bound keeps JSON exact. */
export const nanoUsd = z.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER);
const count = z.number().int().nonnegative();
const millis = z.number().nonnegative();

export const errorClassSchema = z.enum([
  'transient',
  'rate_limit',
  'auth',
  'quota',
  'permanent',
  'timeout',
  'connect',
  'client_abort',
  /** A race or hedge loser, aborted because another channel answered first. */
  'cancelled',
  'mid_stream',
  'unknown',
]);
export type ErrorClass = z.infer<typeof errorClassSchema>;

export const attemptSchema = z.object({
  channel_id: z.string().min(1),
  provider: z.string().min(1),
  /** Upstream HTTP status; 0 when no response arrived (connect error, timeout). */
  status: z.number().int().min(0).max(999),
  error_class: errorClassSchema.nullable(),
  /** Time from the request's start to this attempt's start. */
  started_after_ms: millis,
  latency_ms: millis,
  ttft_ms: millis.nullable(),
  /**
   * Optional (added for mid-stream failover): the tokens this attempt
   * delivered and their cost at this attempt's own channel price. Present on
   * every delivering attempt when more than one attempt delivered output to
   * the client; the event's `usage` and `cost_nano` are then their sums.
   */
  usage: z.object({ input_tokens: count, output_tokens: count, cached_input_tokens: count, reasoning_tokens: count, cache_write_input_tokens: count.optional() }).optional(),
  cost_nano: nanoUsd.nonnegative().optional(),
});
export type UsageAttempt = z.infer<typeof attemptSchema>;

export const tokenUsageSchema = z.object({
  input_tokens: count,
  output_tokens: count,
  cached_input_tokens: count,
  reasoning_tokens: count,
  /**
   * Part of input_tokens written to the provider's prompt cache on this
   * request (Anthropic's `cache_creation_input_tokens`), billed at the
   * cache-write rate. Disjoint from cached_input_tokens (cache reads), so
   * input_tokens ≥ cached_input_tokens + cache_write_input_tokens. Absent
   * (older producers, providers that do not report it): 0.
   */
  cache_write_input_tokens: count.optional(),
});
export type TokenUsage = z.infer<typeof tokenUsageSchema>;

/** Prices in force when the request was routed, integer nano-USD per 1M tokens. */
export const priceSnapshotSchema = z.object({
  input_nano_per_mtok: nanoUsd.nonnegative(),
  output_nano_per_mtok: nanoUsd.nonnegative(),
  cached_input_nano_per_mtok: nanoUsd.nonnegative(),
  /** Rate of cache-write input tokens; absent: the input rate. */
  cache_write_nano_per_mtok: nanoUsd.nonnegative().optional(),
});
export type PriceSnapshot = z.infer<typeof priceSnapshotSchema>;

export const USAGE_SCHEMA_V1 = 'usage.v1' as const;

/**
 * One event per client request. `request_id` is the idempotency key
 * everywhere: Nats-Msg-Id, ClickHouse row id, ledger key.
 */
export const usageEventV1Schema = z.object({
  schema: z.literal(USAGE_SCHEMA_V1),
  request_id: z.string().min(1).max(64),
  /** ISO-8601 time the request arrived at ingress. */
  occurred_at: z.iso.datetime({ offset: true }),
  trace_id: z.string().regex(/^[0-9a-f]{32}$/).nullable(),
  key_id: z.string().min(1),
  account_id: z.string().min(1),
  /** The public model id the client asked for. */
  model_requested: z.string().min(1),
  /** The model the upstream says it served ('' when no attempt succeeded). */
  model_served: z.string(),
  /** The channel that produced the answer ('' when none did). */
  channel_id: z.string(),
  provider: z.string(),
  route_mode: z.string().min(1),
  stream: z.boolean(),
  status: z.enum(['ok', 'error']),
  /** The status the client received. */
  http_status: z.number().int().min(100).max(599),
  error_class: errorClassSchema.nullable(),
  attempts: z.array(attemptSchema).max(32),
  usage: tokenUsageSchema,
  usage_estimated: z.boolean(),
  ttft_ms: millis.nullable(),
  latency_ms: millis,
  tokens_per_second: z.number().nonnegative().nullable(),
  price: priceSnapshotSchema,
  cost_nano: nanoUsd.nonnegative(),
  /**
   * Optional (added with spend leases): the leases the request was held
   * under (account, key day/month budgets). Billing adds the booked debit to
   * each, so their reservation ends once the ledger has the cost.
   */
  lease_ids: z.array(z.string().min(1).max(64)).max(8).optional(),
});
export type UsageEventV1 = z.infer<typeof usageEventV1Schema>;

export type ParseResult<T> = { ok: true; value: T } | { ok: false; reason: string };

/**
 * Validates a raw usage event; the reason names the failing fields for the
 * dead-letter stream. A valid event with exactly the schema's fields takes a
 * hand-compiled check (usage.v1.fast.ts, same answer, a fraction of the
 * cost); everything else goes through zod.
 */
export function parseUsageEventV1(raw: unknown): ParseResult<UsageEventV1> {
  if (isExactUsageEventV1(raw)) return { ok: true, value: raw };
  const r = usageEventV1Schema.safeParse(raw);
  if (r.success) return { ok: true, value: r.data };
  const reason = r.error.issues
    .slice(0, 5)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');
  return { ok: false, reason };
}

/** Decodes bytes from the bus: JSON errors become a reason, never a throw. */
export function decodeUsageEventV1(data: Uint8Array): ParseResult<UsageEventV1> {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
  } catch (e) {
    return { ok: false, reason: `invalid JSON: ${(e as Error).message}` };
  }
  return parseUsageEventV1(raw);
}
