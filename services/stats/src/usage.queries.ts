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
}

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
}

/**
 * Counts, token and cost sums, and latency/TTFT percentiles over a window.
 * Percentiles use t-digest (quantilesTDigestIf, present in 18.16): bounded
 * memory over any window, exact on small sets, within about 1% on large
 * ones. They cover successful requests only: a fast 401 or a timed-out
 * attempt says nothing about a channel's speed.
 */
export async function summarizeUsage(client: ClickHouseClient, f: SummaryFilter): Promise<UsageSummary> {
  // Aliases never repeat a column name: 18.16 substitutes aliases inside
  // expressions, so `sum(cost_nano) AS cost_nano` would be a cyclic alias.
  const query = sql`SELECT
  count() AS requests,
  countIf(status = 'error') AS errors,
  sum(input_tokens) AS sum_input_tokens,
  sum(output_tokens) AS sum_output_tokens,
  sum(cost_nano) AS sum_cost_nano,
  quantilesTDigestIf(0.5, 0.95)(latency_ms, status = 'ok') AS latency,
  quantilesTDigestIf(0.5, 0.95)(ttft_ms, status = 'ok') AS ttft
FROM ${TABLE}
WHERE ${summaryWhere(f)}`;
  const rs = await client.query({ query: query.text, format: 'JSONEachRow' });
  const [row] = await rs.json<SummaryRow>();
  if (!row) throw new Error('summary query returned no row');
  return {
    requests: Number(row.requests),
    errors: Number(row.errors),
    input_tokens: Number(row.sum_input_tokens),
    output_tokens: Number(row.sum_output_tokens),
    cost_nano: exactInteger(row.sum_cost_nano),
    p50_latency_ms: ms(row.latency[0]),
    p95_latency_ms: ms(row.latency[1]),
    p50_ttft_ms: ms(row.ttft[0]),
    p95_ttft_ms: ms(row.ttft[1]),
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
