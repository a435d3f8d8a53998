import { formatDateTime, identifier, literalList, rawInsertBody, sql, type ClickHouseClient } from '@switchyard/clickhouse';
import type { UsageEventV1 } from '@switchyard/contracts';
import { USAGE_EVENTS_TABLE, USAGE_INSERT_COLUMNS, toUsageRow, usageRowsTsv, type UsageEventInsert } from './usage.table';

export interface StoreResult {
  /** Request ids written by this call. */
  inserted: string[];
  /** Request ids skipped: already in the table, or repeated within the batch. */
  duplicates: string[];
}

/**
 * Ids per duplicate-check query: keeps the query text (~40 bytes an id)
 * well under ClickHouse's default max_query_size of 256 KiB, whatever the
 * batch size.
 */
export const DUPLICATE_CHECK_CHUNK = 2000;

/** Request ids among `rows` that are already stored: one query per 2,000 rows. */
export async function findStoredRequestIds(client: ClickHouseClient, rows: readonly UsageEventInsert[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (let i = 0; i < rows.length; i += DUPLICATE_CHECK_CHUNK) {
    for (const id of await findStoredChunk(client, rows.slice(i, i + DUPLICATE_CHECK_CHUNK))) found.add(id);
  }
  return found;
}

async function findStoredChunk(client: ClickHouseClient, rows: readonly UsageEventInsert[]): Promise<string[]> {
  const distinct = (pick: (r: UsageEventInsert) => string) => literalList([...new Set(rows.map(pick))]);
  // account_id and event_date lead the sort key: filtering on them lets the
  // primary index skip to the few granules that can hold these request ids.
  const query = sql`SELECT request_id FROM ${identifier(USAGE_EVENTS_TABLE)}
WHERE event_date IN ${distinct((r) => r.event_date)}
  AND account_id IN ${distinct((r) => r.account_id)}
  AND request_id IN ${distinct((r) => r.request_id)}`;
  const rs = await client.query({ query: query.text, format: 'JSONEachRow' });
  return (await rs.json<{ request_id: string }>()).map((r) => r.request_id);
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
