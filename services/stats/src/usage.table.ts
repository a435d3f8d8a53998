import { formatDate, formatDateTime } from '@switchyard/clickhouse';
import type { UsageAttempt, UsageEventV1 } from '@switchyard/contracts';

export const USAGE_EVENTS_TABLE = 'usage_events';

/**
 * One row of `usage_events` as written (JSONEachRow). Nulls of the event
 * become '' for strings (trace_id, error_class) but stay NULL for the
 * measurements (ttft_ms, tokens_per_second), so that percentiles and
 * averages skip them instead of counting a made-up value.
 */
export interface UsageEventInsert {
  request_id: string;
  /** UTC seconds: 'YYYY-MM-DD hh:mm:ss'. */
  occurred_at: string;
  /** The milliseconds that DateTime cannot hold (0–999). */
  occurred_at_ms: number;
  /** UTC date of occurred_at: partition and sort key. */
  event_date: string;
  trace_id: string;
  key_id: string;
  account_id: string;
  model_requested: string;
  model_served: string;
  channel_id: string;
  provider: string;
  route_mode: string;
  stream: 0 | 1;
  status: 'ok' | 'error';
  http_status: number;
  error_class: string;
  input_tokens: number;
  output_tokens: number;
  cached_input_tokens: number;
  /** Part of input_tokens written to the prompt cache (0 when the event has none). */
  cache_write_input_tokens: number;
  reasoning_tokens: number;
  usage_estimated: 0 | 1;
  ttft_ms: number | null;
  latency_ms: number;
  tokens_per_second: number | null;
  price_input_nano_per_mtok: number;
  price_output_nano_per_mtok: number;
  price_cached_input_nano_per_mtok: number;
  cost_nano: number;
  /** JSON array of the attempts, as in the event. */
  attempts: string;
  attempt_count: number;
  /** Version column of ReplacingMergeTree: the latest write of a request id wins at merge. */
  inserted_at: string;
}

/** A row as ClickHouse returns it in JSONEachRow: 64-bit integers arrive as strings. */
export type UsageEventSelect = Omit<
  UsageEventInsert,
  'price_input_nano_per_mtok' | 'price_output_nano_per_mtok' | 'price_cached_input_nano_per_mtok' | 'cost_nano'
> & {
  price_input_nano_per_mtok: string | number;
  price_output_nano_per_mtok: string | number;
  price_cached_input_nano_per_mtok: string | number;
  cost_nano: string | number;
};

/** A stored request as the query API returns it: JSON-native types, times in ISO-8601 UTC. */
export interface StoredUsage
  extends Omit<UsageEventInsert, 'stream' | 'usage_estimated' | 'attempts' | 'occurred_at' | 'inserted_at'> {
  occurred_at: string;
  inserted_at: string;
  stream: boolean;
  usage_estimated: boolean;
  attempts: UsageAttempt[];
}

export function toUsageRow(e: UsageEventV1, insertedAt: Date): UsageEventInsert {
  const at = new Date(e.occurred_at);
  return {
    request_id: e.request_id,
    occurred_at: formatDateTime(at),
    occurred_at_ms: at.getUTCMilliseconds(),
    event_date: formatDate(at),
    trace_id: e.trace_id ?? '',
    key_id: e.key_id,
    account_id: e.account_id,
    model_requested: e.model_requested,
    model_served: e.model_served,
    channel_id: e.channel_id,
    provider: e.provider,
    route_mode: e.route_mode,
    stream: e.stream ? 1 : 0,
    status: e.status,
    http_status: e.http_status,
    error_class: e.error_class ?? '',
    input_tokens: e.usage.input_tokens,
    output_tokens: e.usage.output_tokens,
    cached_input_tokens: e.usage.cached_input_tokens,
    cache_write_input_tokens: e.usage.cache_write_input_tokens ?? 0,
    reasoning_tokens: e.usage.reasoning_tokens,
    usage_estimated: e.usage_estimated ? 1 : 0,
    ttft_ms: e.ttft_ms,
    latency_ms: e.latency_ms,
    tokens_per_second: e.tokens_per_second,
    price_input_nano_per_mtok: e.price.input_nano_per_mtok,
    price_output_nano_per_mtok: e.price.output_nano_per_mtok,
    price_cached_input_nano_per_mtok: e.price.cached_input_nano_per_mtok,
    cost_nano: e.cost_nano,
    attempts: JSON.stringify(e.attempts),
    attempt_count: e.attempts.length,
    inserted_at: formatDateTime(insertedAt),
  };
}

/** 'YYYY-MM-DD hh:mm:ss' (UTC) plus milliseconds → ISO-8601. */
function isoUtc(dateTime: string, ms = 0): string {
  return `${dateTime.replace(' ', 'T')}.${String(ms).padStart(3, '0')}Z`;
}

/** Money columns are bounded to safe integers by the contract, so they convert exactly. */
function int64(v: string | number): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new Error(`64-bit value ${v} is beyond the exact range of a JSON number`);
  return n;
}

export function toStoredUsage(r: UsageEventSelect): StoredUsage {
  return {
    ...r,
    occurred_at: isoUtc(r.occurred_at, r.occurred_at_ms),
    inserted_at: isoUtc(r.inserted_at),
    stream: Number(r.stream) === 1,
    usage_estimated: Number(r.usage_estimated) === 1,
    price_input_nano_per_mtok: int64(r.price_input_nano_per_mtok),
    price_output_nano_per_mtok: int64(r.price_output_nano_per_mtok),
    price_cached_input_nano_per_mtok: int64(r.price_cached_input_nano_per_mtok),
    cost_nano: int64(r.cost_nano),
    attempts: JSON.parse(r.attempts) as UsageAttempt[],
  };
}
