import { identifier, literalList, sql, type ClickHouseClient } from '@switchyard/clickhouse';
import type { UsageEventV1 } from '@switchyard/contracts';
import { USAGE_EVENTS_TABLE, toUsageRow, type UsageEventInsert } from './usage.table';

export interface StoreResult {
  /** Request ids written by this call. */
  inserted: string[];
  /** Request ids skipped: already in the table, or repeated within the batch. */
  duplicates: string[];
}

/** Request ids among `rows` that are already stored. One query, whatever the batch size. */
export async function findStoredRequestIds(client: ClickHouseClient, rows: readonly UsageEventInsert[]): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const distinct = (pick: (r: UsageEventInsert) => string) => literalList([...new Set(rows.map(pick))]);
  // account_id and event_date lead the sort key: filtering on them lets the
  // primary index skip to the few granules that can hold these request ids.
  const query = sql`SELECT request_id FROM ${identifier(USAGE_EVENTS_TABLE)}
WHERE event_date IN ${distinct((r) => r.event_date)}
  AND account_id IN ${distinct((r) => r.account_id)}
  AND request_id IN ${distinct((r) => r.request_id)}`;
  const rs = await client.query({ query: query.text, format: 'JSONEachRow' });
  return new Set((await rs.json<{ request_id: string }>()).map((r) => r.request_id));
}

/**
 * Writes a batch of usage events exactly once: repeats within the batch and
 * request ids already stored are dropped, the rest go in one JSONEachRow
 * insert. Resolves only after ClickHouse accepted the insert; any failure
 * throws, so the caller leaves the batch unacknowledged for redelivery.
 */
export async function storeUsageBatch(
  client: ClickHouseClient,
  events: readonly UsageEventV1[],
  insertedAt: Date,
): Promise<StoreResult> {
  const duplicates: string[] = [];
  const unique = new Map<string, UsageEventInsert>();
  for (const e of events) {
    if (unique.has(e.request_id)) duplicates.push(e.request_id);
    else unique.set(e.request_id, toUsageRow(e, insertedAt));
  }
  const stored = await findStoredRequestIds(client, [...unique.values()]);
  const rows: UsageEventInsert[] = [];
  for (const [id, row] of unique) {
    if (stored.has(id)) duplicates.push(id);
    else rows.push(row);
  }
  if (rows.length > 0) {
    await client.insert({ table: identifier(USAGE_EVENTS_TABLE).text, values: rows, format: 'JSONEachRow' });
  }
  return { inserted: rows.map((r) => r.request_id), duplicates };
}
