import { identifier, sql, type ClickHouseClient } from '@switchyard/clickhouse';
import { USAGE_EVENTS_TABLE, USAGE_REQUEST_IDS_TABLE } from './usage.table';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Monthly partitions (`toYYYYMM(event_date)`, e.g. 202401) whose every day is
 * older than `retentionDays` before `now`: the ones retention may drop.
 */
export function expiredPartitions(partitions: readonly string[], retentionDays: number, now: Date): string[] {
  const oldestKept = new Date(now.getTime() - retentionDays * DAY_MS);
  const keepFrom = oldestKept.getUTCFullYear() * 100 + (oldestKept.getUTCMonth() + 1);
  return partitions.filter((p) => /^\d{6}$/.test(p) && Number(p) < keepFrom).sort();
}

/**
 * Retention of raw usage that works on every server: drops whole monthly
 * partitions of usage_events (and of usage_request_ids, the duplicate
 * check's index of it, partitioned by the same months) past the retention.
 * ClickHouse 18.16 has no table TTL; on 19.6+ the TTLs set by the
 * migrations remove rows day by day and this only ever finds months already
 * emptied. Rollups are not touched. Returns the usage_events partitions
 * dropped.
 */
export async function dropExpiredUsagePartitions(client: ClickHouseClient, retentionDays: number, now: Date): Promise<string[]> {
  const dropped: string[] = [];
  // usage_events first: a month gone from the index but still in usage_events would let a repeat in.
  for (const table of [USAGE_EVENTS_TABLE, USAGE_REQUEST_IDS_TABLE]) {
    const rs = await client.query({
      query: sql`SELECT DISTINCT partition FROM system.parts
WHERE database = currentDatabase() AND table = ${table} AND active`.text,
      format: 'JSONEachRow',
    });
    const parts = (await rs.json<{ partition: string }>()).map((r) => String(r.partition));
    const expired = expiredPartitions(parts, retentionDays, now);
    for (const p of expired) {
      // p is six digits (checked above): a numeric partition literal.
      await client.command({ query: `ALTER TABLE ${identifier(table).text} DROP PARTITION ${Number(p)}` });
    }
    if (table === USAGE_EVENTS_TABLE) dropped.push(...expired);
  }
  return dropped;
}
