import { z } from 'zod';
import {
  formatDate,
  formatDateTime,
  identifier,
  joinSql,
  sql,
  type ClickHouseClient,
  type SqlFragment,
} from '@switchyard/clickhouse';
import { ROLLUPS, type RollupSpec } from './stats.migrations';
import { USAGE_EVENTS_TABLE, toStoredUsage, type StoredUsage, type UsageEventSelect } from './usage.table';

const TABLE = identifier(USAGE_EVENTS_TABLE);

/** The stored row of one request, or null. The latest write wins if a duplicate is not merged yet. */
export async function getUsageByRequestId(client: ClickHouseClient, requestId: string): Promise<StoredUsage | null> {
  const query = sql`SELECT * FROM ${TABLE} WHERE request_id = ${requestId} ORDER BY inserted_at DESC LIMIT 1`;
  const rs = await client.query({ query: query.text, format: 'JSONEachRow' });
  const rows = await rs.json<UsageEventSelect>();
  return rows.length > 0 ? toStoredUsage(rows[0]!) : null;
}

export interface SummaryFilter {
  channelId?: string;
  /** The public model id the clients asked for (model_requested). */
  model?: string;
  keyId?: string;
  accountId?: string;
  /** Inclusive start. */
  from: Date;
  /** Exclusive end. */
  to: Date;
}

export interface UsageSummary {
  requests: number;
  errors: number;
  input_tokens: number;
  output_tokens: number;
  /**
   * Integer nano-USD. A JSON number while it is exact (below 2^53 nano-USD,
   * about 9 million USD); beyond that the exact decimal string.
   */
  cost_nano: number | string;
  /** Percentiles of successful requests; null when there were none. */
  p50_latency_ms: number | null;
  p95_latency_ms: number | null;
  p50_ttft_ms: number | null;
  p95_ttft_ms: number | null;
  /** Failed requests by error class (`unknown` when none was recorded). */
  errors_by_class: Record<string, number>;
  /** Mean output tokens per second of successful requests; null when unknown. */
  avg_tokens_per_second: number | null;
  /**
   * Where the figures come from: `raw` (usage_events, exact to the
   * millisecond) or `rollup_1m` (per-minute rollups, for long windows: the
   * window is widened to whole minutes, see `from`/`to`).
   */
  source: 'raw' | 'rollup_1m';
  /** The window actually covered (ISO-8601 UTC), inclusive start, exclusive end. */
  from: string;
  to: string;
}

/** Windows at least this long are answered from the per-minute rollups (when a rollup has the filter's dimensions). */
export const ROLLUP_MIN_WINDOW_MS = 6 * 60 * 60 * 1000;

export const DEFAULT_SUMMARY_WINDOW_MS = 60 * 60 * 1000;

const id = z.string().min(1).max(256);
const isoTime = z.iso.datetime({ offset: true, message: 'must be an ISO-8601 date-time, e.g. 2025-01-31T12:00:00Z' });
const summaryParamsSchema = z.strictObject({
  channel_id: id.optional(),
  model: id.optional(),
  key_id: id.optional(),
  account_id: id.optional(),
  from: isoTime.optional(),
  to: isoTime.optional(),
});

export type ParseParamsResult = { ok: true; value: SummaryFilter } | { ok: false; message: string; param?: string };

/** Validates the summary query string; the window defaults to the hour before `now`. */
export function parseSummaryParams(query: unknown, now: Date = new Date()): ParseParamsResult {
  const r = summaryParamsSchema.safeParse(query ?? {});
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const param = issue.code === 'unrecognized_keys' ? issue.keys[0] : String(issue.path[0] ?? '');
    const message = issue.code === 'unrecognized_keys' ? `unknown parameter '${param}'` : `'${param}' ${issue.message}`;
    return { ok: false, message, param };
  }
  const p = r.data;
  const to = p.to ? new Date(p.to) : now;
  const from = p.from ? new Date(p.from) : new Date(to.getTime() - DEFAULT_SUMMARY_WINDOW_MS);
  if (!(from.getTime() < to.getTime())) return { ok: false, message: "'from' must be before 'to'", param: 'from' };
  return {
    ok: true,
    value: { channelId: p.channel_id, model: p.model, keyId: p.key_id, accountId: p.account_id, from, to },
  };
}

/** Millisecond timestamp of a row, from the DateTime column and its millisecond column. */
const OCCURRED_MS = sql`(toUInt64(toUnixTimestamp(occurred_at)) * 1000 + occurred_at_ms)`;

/**
 * WHERE clause for a filter. The coarse conditions on event_date and
 * occurred_at use the partition and primary index; the last two make the
 * window exact to the millisecond.
 */
export function summaryWhere(f: SummaryFilter): SqlFragment {
  const fromSec = new Date(Math.floor(f.from.getTime() / 1000) * 1000);
  const conditions: SqlFragment[] = [
    sql`event_date >= ${formatDate(f.from)} AND event_date <= ${formatDate(f.to)}`,
    sql`occurred_at >= ${formatDateTime(fromSec)} AND occurred_at <= ${formatDateTime(f.to)}`,
    sql`${OCCURRED_MS} >= ${f.from.getTime()} AND ${OCCURRED_MS} < ${f.to.getTime()}`,
  ];
  if (f.channelId !== undefined) conditions.push(sql`channel_id = ${f.channelId}`);
  if (f.model !== undefined) conditions.push(sql`model_requested = ${f.model}`);
  if (f.keyId !== undefined) conditions.push(sql`key_id = ${f.keyId}`);
  if (f.accountId !== undefined) conditions.push(sql`account_id = ${f.accountId}`);
  return joinSql(conditions, '\n  AND ');
}

interface SummaryRow {
  requests: string | number;
  errors: string | number;
  sum_input_tokens: string | number;
  sum_output_tokens: string | number;
  sum_cost_nano: string | number;
  latency: Array<number | null>;
  ttft: Array<number | null>;
  tps: number | null;
}

/** The rollup that holds every dimension of the filter (the smallest one when several do), or undefined. */
export function rollupFor(f: SummaryFilter): RollupSpec | undefined {
  const needed: string[] = [];
  if (f.channelId !== undefined) needed.push('channel_id');
  if (f.model !== undefined) needed.push('model_requested');
  if (f.keyId !== undefined) needed.push('key_id');
  if (f.accountId !== undefined) needed.push('account_id');
  const candidates: RollupSpec[] = [ROLLUPS.model, ROLLUPS.channel, ROLLUPS.account];
  return candidates.find((r) => needed.every((d) => (r.dimensions as readonly string[]).includes(d)));
}

const MINUTE_MS = 60_000;

export interface SummarizeOptions {
  /** Windows at least this long read the rollups when they can (default ROLLUP_MIN_WINDOW_MS; Infinity: always raw). */
  rollupMinWindowMs?: number;
}

/**
 * Counts, errors by class, token and cost sums, latency/TTFT percentiles and
 * the mean tokens/s over a window. Short windows read usage_events, exact to
 * the millisecond; long ones (>= 6 h by default) read the per-minute rollup
 * holding the filter's dimensions, over whole minutes. Percentiles use
 * t-digest (present in 18.16; mergeable states in the rollups): bounded
 * memory over any window, exact on small sets, within about 1% on large
 * ones. They cover successful requests only: a fast 401 or a timed-out
 * attempt says nothing about a channel's speed.
 */
export async function summarizeUsage(client: ClickHouseClient, f: SummaryFilter, opts: SummarizeOptions = {}): Promise<UsageSummary> {
  const long = f.to.getTime() - f.from.getTime() >= (opts.rollupMinWindowMs ?? ROLLUP_MIN_WINDOW_MS);
  const rollup = long ? rollupFor(f) : undefined;
  return rollup ? summarizeRollup(client, f, rollup) : summarizeRaw(client, f);
}

async function summarizeRaw(client: ClickHouseClient, f: SummaryFilter): Promise<UsageSummary> {
  // Aliases never repeat a column name: 18.16 substitutes aliases inside
  // expressions, so `sum(cost_nano) AS cost_nano` would be a cyclic alias.
  const where = summaryWhere(f);
  const query = sql`SELECT
  count() AS requests,
  countIf(status = 'error') AS errors,
  sum(input_tokens) AS sum_input_tokens,
  sum(output_tokens) AS sum_output_tokens,
  sum(cost_nano) AS sum_cost_nano,
  quantilesTDigestIf(0.5, 0.95)(latency_ms, status = 'ok') AS latency,
  quantilesTDigestIf(0.5, 0.95)(ttft_ms, status = 'ok') AS ttft,
  avgIf(ifNull(tokens_per_second, 0), status = 'ok' AND isNotNull(tokens_per_second)) AS tps
FROM ${TABLE}
WHERE ${where}`;
  const byClass = sql`SELECT error_class AS class, count() AS n FROM ${TABLE}
WHERE ${where} AND status = 'error'
GROUP BY error_class`;
  return toSummary(await one<SummaryRow>(client, query), await classes(client, byClass), 'raw', f.from, f.to);
}

async function summarizeRollup(client: ClickHouseClient, f: SummaryFilter, r: RollupSpec): Promise<UsageSummary> {
  const from = new Date(Math.floor(f.from.getTime() / MINUTE_MS) * MINUTE_MS);
  const to = new Date(Math.ceil(f.to.getTime() / MINUTE_MS) * MINUTE_MS);
  const conditions: SqlFragment[] = [sql`minute >= ${formatDateTime(from)} AND minute < ${formatDateTime(to)}`];
  if (f.channelId !== undefined) conditions.push(sql`channel_id = ${f.channelId}`);
  if (f.model !== undefined) conditions.push(sql`model_requested = ${f.model}`);
  if (f.keyId !== undefined) conditions.push(sql`key_id = ${f.keyId}`);
  if (f.accountId !== undefined) conditions.push(sql`account_id = ${f.accountId}`);
  const where = joinSql(conditions, '\n  AND ');
  const table = identifier(r.table);
  const query = sql`SELECT
  countMerge(requests) AS requests,
  sumMerge(errors) AS errs,
  sumMerge(input_tokens) AS sum_input_tokens,
  sumMerge(output_tokens) AS sum_output_tokens,
  sumMerge(cost_nano) AS sum_cost_nano,
  quantilesTDigestIfMerge(0.5, 0.95)(latency_ms_q) AS latency,
  quantilesTDigestIfMerge(0.5, 0.95)(ttft_ms_q) AS ttft,
  avgIfMerge(tokens_per_second_avg) AS tps
FROM ${table}
WHERE ${where}`;
  const byClass = sql`SELECT error_class AS class, sumMerge(errors) AS n FROM ${table}
WHERE ${where} AND error_class != ''
GROUP BY error_class`;
  const row = await one<SummaryRow & { errs: string | number }>(client, query);
  return toSummary({ ...row, errors: row.errs }, await classes(client, byClass), 'rollup_1m', from, to);
}

async function one<T>(client: ClickHouseClient, q: SqlFragment): Promise<T> {
  const rs = await client.query({ query: q.text, format: 'JSONEachRow' });
  const [row] = await rs.json<T>();
  if (!row) throw new Error('summary query returned no row');
  return row;
}

async function classes(client: ClickHouseClient, q: SqlFragment): Promise<Record<string, number>> {
  const rs = await client.query({ query: q.text, format: 'JSONEachRow' });
  const out: Record<string, number> = {};
  for (const r of await rs.json<{ class: string; n: string | number }>()) {
    const k = r.class || 'unknown';
    const n = Number(r.n);
    if (n > 0) out[k] = (out[k] ?? 0) + n;
  }
  return out;
}

function toSummary(row: SummaryRow, byClass: Record<string, number>, source: UsageSummary['source'], from: Date, to: Date): UsageSummary {
  const requests = Number(row.requests);
  return {
    requests,
    errors: Number(row.errors),
    input_tokens: Number(row.sum_input_tokens),
    output_tokens: Number(row.sum_output_tokens),
    cost_nano: exactInteger(row.sum_cost_nano),
    // An empty t-digest answers 0 (18.16) or NaN: no successful request, no percentile.
    p50_latency_ms: requests > 0 ? ms(row.latency[0]) : null,
    p95_latency_ms: requests > 0 ? ms(row.latency[1]) : null,
    p50_ttft_ms: requests > 0 ? ms(row.ttft[0]) : null,
    p95_ttft_ms: requests > 0 ? ms(row.ttft[1]) : null,
    errors_by_class: byClass,
    avg_tokens_per_second: requests > 0 ? ms(row.tps) : null,
    source,
    from: from.toISOString(),
    to: to.toISOString(),
  };
}

function exactInteger(v: string | number): number | string {
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : String(v);
}

/** t-digest answers in Float32: rounded to the microsecond to drop the noise. */
function ms(v: number | null | undefined): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? Math.round(v * 1000) / 1000 : null;
}
