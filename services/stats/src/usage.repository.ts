import { formatDateTime, joinSql, identifier, literalList, rawInsertBody, sql, type ClickHouseClient } from '@switchyard/clickhouse';
import type { UsageEventV1 } from '@switchyard/contracts';
import { USAGE_EVENTS_TABLE, USAGE_INSERT_COLUMNS, USAGE_REQUEST_IDS_TABLE, toUsageRow, usageRowsTsv, type UsageEventInsert } from './usage.table';

export interface StoreResult {
  /** Request ids written by this call. */
  inserted: string[];
  /** Request ids skipped: already in the table, or repeated within the batch. */
  duplicates: string[];
}

/**
 * Ids per duplicate-check query. The query text is ~40 bytes an id, past
 * ClickHouse's default max_query_size (256 KiB) from ~6,000 ids, so the
 * check raises that limit for its own query to {@link DUPLICATE_CHECK_QUERY_BYTES}:
 * one query for a batch of up to 10,000 events (each query costs a round
 * trip and a parse), several for larger ones.
 */
export const DUPLICATE_CHECK_CHUNK = 10_000;
/**
 * max_query_size of a duplicate-check query (a per-query setting on 18.16
 * and current releases): 10,000 ids of the contract's 64 characters at
 * most, even fully escaped, fit.
 */
export const DUPLICATE_CHECK_QUERY_BYTES = 4 * 1024 * 1024;

/**
 * Most occurred_at ranges in one duplicate-check query. A batch of fresh
 * events covers a second or two; redeliveries add a range each for their
 * own seconds; past this many, the closest ranges are joined (reading the
 * seconds between them too) so the query's filter stays small.
 */
export const MAX_CHECK_RANGES = 32;

const epochSeconds = (dateTime: string) => Date.parse(`${dateTime.replace(' ', 'T')}Z`) / 1000;

/**
 * The occurred_at ranges ('YYYY-MM-DD hh:mm:ss', inclusive) covering
 * `rows`: their distinct seconds, consecutive seconds joined, and then the
 * closest ranges joined until at most {@link MAX_CHECK_RANGES} are left.
 */
export function occurredAtRanges(rows: readonly UsageEventInsert[]): Array<[string, string]> {
  const seconds = [...new Set(rows.map((r) => r.occurred_at))].sort();
  const ranges: Array<{ from: string; to: string; start: number; end: number }> = [];
  for (const s of seconds) {
    const t = epochSeconds(s);
    const open = ranges.at(-1);
    if (open && t - open.end <= 1) {
      open.to = s;
      open.end = t;
    } else ranges.push({ from: s, to: s, start: t, end: t });
  }
  if (ranges.length > MAX_CHECK_RANGES) {
    // Keep the widest gaps between ranges, join across the others.
    const cut = new Set(
      ranges
        .slice(1)
        .map((r, i) => ({ after: i, gap: r.start - ranges[i]!.end }))
        .sort((a, b) => b.gap - a.gap || a.after - b.after)
        .slice(0, MAX_CHECK_RANGES - 1)
        .map((g) => g.after),
    );
    const joined: typeof ranges = [];
    let open = { ...ranges[0]! };
    for (let i = 1; i < ranges.length; i++) {
      if (cut.has(i - 1)) {
        joined.push(open);
        open = { ...ranges[i]! };
      } else {
        open.to = ranges[i]!.to;
        open.end = ranges[i]!.end;
      }
    }
    joined.push(open);
    return joined.map((r) => [r.from, r.to]);
  }
  return ranges.map((r) => [r.from, r.to]);
}

/**
 * The duplicate check for up to {@link DUPLICATE_CHECK_CHUNK} rows: which of
 * their request ids are in usage_request_ids (every stored request id with
 * its occurred_at, kept by a materialized view on usage_events). That table
 * is sorted by (occurred_at, request_id) and a repeat of an event carries
 * the occurred_at ingress gave it once, so the primary index narrows the
 * read to the seconds of the batch: the cost follows the batch (and the
 * events of those seconds), not the size of the table.
 */
export function storedRequestIdsQuery(rows: readonly UsageEventInsert[]): string {
  const ranges = occurredAtRanges(rows).map(([from, to]) => sql`occurred_at >= ${from} AND occurred_at <= ${to}`);
  return sql`SELECT request_id FROM ${identifier(USAGE_REQUEST_IDS_TABLE)}
WHERE (${joinSql(ranges, '\n   OR ')})
  AND request_id IN ${literalList([...new Set(rows.map((r) => r.request_id))])}`.text;
}

/** Request ids among `rows` that are already stored: one query per 10,000 rows. */
export async function findStoredRequestIds(client: ClickHouseClient, rows: readonly UsageEventInsert[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (let i = 0; i < rows.length; i += DUPLICATE_CHECK_CHUNK) {
    const rs = await client.query({
      query: storedRequestIdsQuery(rows.slice(i, i + DUPLICATE_CHECK_CHUNK)),
      format: 'JSONEachRow',
      clickhouse_settings: { max_query_size: String(DUPLICATE_CHECK_QUERY_BYTES) },
    });
    for (const r of await rs.json<{ request_id: string }>()) found.add(r.request_id);
  }
  return found;
}

/** A batch ready to insert: its rows (one per new request id) and what was dropped as a duplicate. */
export interface PlannedBatch {
  rows: UsageEventInsert[];
  duplicates: string[];
}

/**
 * Drops repeats within the batch and request ids already stored (one
 * query). Can run while the previous batch is being inserted: the caller
 * then removes that batch's ids with {@link excludeInserted}.
 */
export async function planUsageBatch(
  client: ClickHouseClient,
  events: readonly UsageEventV1[],
  insertedAt: Date,
): Promise<PlannedBatch> {
  const duplicates: string[] = [];
  const unique = new Map<string, UsageEventInsert>();
  const insertedAtText = formatDateTime(insertedAt);
  for (const e of events) {
    if (unique.has(e.request_id)) duplicates.push(e.request_id);
    else unique.set(e.request_id, toUsageRow(e, insertedAtText));
  }
  const stored = await findStoredRequestIds(client, [...unique.values()]);
  const rows: UsageEventInsert[] = [];
  for (const [id, row] of unique) {
    if (stored.has(id)) duplicates.push(id);
    else rows.push(row);
  }
  return { rows, duplicates };
}

/** Moves the rows whose request id is in `inserted` (written by the batch before) to the duplicates. */
export function excludeInserted(plan: PlannedBatch, inserted: ReadonlySet<string>): PlannedBatch {
  if (inserted.size === 0) return plan;
  const rows: UsageEventInsert[] = [];
  const duplicates = [...plan.duplicates];
  for (const r of plan.rows) {
    if (inserted.has(r.request_id)) duplicates.push(r.request_id);
    else rows.push(r);
  }
  return { rows, duplicates };
}

/**
 * One TabSeparated insert of the planned rows (cheaper than JSONEachRow to
 * encode here and to parse in ClickHouse); resolves once ClickHouse
 * accepted it.
 */
export async function insertPlannedBatch(client: ClickHouseClient, plan: PlannedBatch): Promise<StoreResult> {
  if (plan.rows.length > 0) {
    await client.insert({
      table: identifier(USAGE_EVENTS_TABLE).text,
      columns: [...USAGE_INSERT_COLUMNS],
      values: rawInsertBody(usageRowsTsv(plan.rows), plan.rows.length),
      format: 'TabSeparated',
    });
  }
  return { inserted: plan.rows.map((r) => r.request_id), duplicates: plan.duplicates };
}

/**
 * Writes a batch of usage events exactly once: repeats within the batch and
 * request ids already stored are dropped, the rest go in one TabSeparated
 * insert. Resolves only after ClickHouse accepted the insert; any failure
 * throws, so the caller leaves the batch unacknowledged for redelivery.
 */
export async function storeUsageBatch(
  client: ClickHouseClient,
  events: readonly UsageEventV1[],
  insertedAt: Date,
): Promise<StoreResult> {
  return insertPlannedBatch(client, await planUsageBatch(client, events, insertedAt));
}
