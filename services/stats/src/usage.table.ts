import { formatDate, formatDateTime } from '@switchyard/clickhouse';
import type { UsageAttempt, UsageEventV1 } from '@switchyard/contracts';

export const USAGE_EVENTS_TABLE = 'usage_events';
/** (occurred_at, request_id) of every stored row, sorted by time: what the duplicate check reads. */
export const USAGE_REQUEST_IDS_TABLE = 'usage_request_ids';

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

/** 'YYYY-MM-DDThh:mm:ss.sssZ' (what toISOString gives) or 'YYYY-MM-DDThh:mm:ssZ'. */
const PLAIN_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{3})?Z$/;

/** occurred_at split into the row's columns; plain UTC strings are cut, not parsed (the hot case). */
function occurredAt(iso: string): { dateTime: string; ms: number; date: string } {
  if (PLAIN_UTC.test(iso)) {
    const date = iso.slice(0, 10);
    return { dateTime: `${date} ${iso.slice(11, 19)}`, ms: iso.length === 24 ? Number(iso.slice(20, 23)) : 0, date };
  }
  const at = new Date(iso);
  return { dateTime: formatDateTime(at), ms: at.getUTCMilliseconds(), date: formatDate(at) };
}

/** `insertedAt` may be given pre-formatted ('YYYY-MM-DD hh:mm:ss' UTC) when a batch maps many events. */
export function toUsageRow(e: UsageEventV1, insertedAt: Date | string): UsageEventInsert {
  const at = occurredAt(e.occurred_at);
  return {
    request_id: e.request_id,
    occurred_at: at.dateTime,
    occurred_at_ms: at.ms,
    event_date: at.date,
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
    inserted_at: typeof insertedAt === 'string' ? insertedAt : formatDateTime(insertedAt),
  };
}

/** The columns of a usage_events insert, in the order of {@link usageRowsTsv}'s fields. */
export const USAGE_INSERT_COLUMNS = [
  'request_id', 'occurred_at', 'occurred_at_ms', 'event_date', 'trace_id', 'key_id', 'account_id', 'model_requested',
  'model_served', 'channel_id', 'provider', 'route_mode', 'stream', 'status', 'http_status', 'error_class',
  'input_tokens', 'output_tokens', 'cached_input_tokens', 'reasoning_tokens', 'cache_write_input_tokens', 'usage_estimated', 'ttft_ms',
  'latency_ms', 'tokens_per_second', 'price_input_nano_per_mtok', 'price_output_nano_per_mtok',
  'price_cached_input_nano_per_mtok', 'cost_nano', 'attempts', 'attempt_count', 'inserted_at',
] as const satisfies ReadonlyArray<keyof UsageEventInsert>;

const TSV_SPECIAL = /[\\\t\n\r]/;
const TSV_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** A String field in ClickHouse's TabSeparated escaping (backslash, tab, newline, CR). */
export function tsvString(v: string): string {
  return TSV_SPECIAL.test(v) ? v.replace(/[\\\t\n\r]/g, (c) => TSV_ESCAPES[c]!) : v;
}

const tsvNullable = (v: number | null) => (v === null ? '\\N' : String(v));

/**
 * The rows as one TabSeparated body for {@link USAGE_INSERT_COLUMNS}: what
 * ClickHouse parses with the least work, and no JSON.stringify per row here
 * (the batch insert is the stats service's hottest path).
 */
export function usageRowsTsv(rows: readonly UsageEventInsert[]): string {
  let out = '';
  for (const r of rows) {
    out += `${tsvString(r.request_id)}\t${r.occurred_at}\t${r.occurred_at_ms}\t${r.event_date}\t${tsvString(r.trace_id)}\t${tsvString(r.key_id)}\t${tsvString(r.account_id)}\t${tsvString(r.model_requested)}\t${tsvString(r.model_served)}\t${tsvString(r.channel_id)}\t${tsvString(r.provider)}\t${tsvString(r.route_mode)}\t${r.stream}\t${tsvString(r.status)}\t${r.http_status}\t${tsvString(r.error_class)}\t${r.input_tokens}\t${r.output_tokens}\t${r.cached_input_tokens}\t${r.reasoning_tokens}\t${r.cache_write_input_tokens}\t${r.usage_estimated}\t${tsvNullable(r.ttft_ms)}\t${r.latency_ms}\t${tsvNullable(r.tokens_per_second)}\t${r.price_input_nano_per_mtok}\t${r.price_output_nano_per_mtok}\t${r.price_cached_input_nano_per_mtok}\t${r.cost_nano}\t${tsvString(r.attempts)}\t${r.attempt_count}\t${r.inserted_at}\n`;
  }
  return out;
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
