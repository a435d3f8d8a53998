import { identifier, sql, type ClickHouseClient } from '@switchyard/clickhouse';
import { USAGE_EVENTS_TABLE } from './usage.table';

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
 * partitions of usage_events past the retention. ClickHouse 18.16 has no
 * table TTL; on 19.6+ the TTL set by migration 0002 removes rows day by day
 * and this only ever finds months already emptied. Rollups are not touched.
 * Returns the partitions dropped.
 */
export async function dropExpiredUsagePartitions(client: ClickHouseClient, retentionDays: number, now: Date): Promise<string[]> {
  const rs = await client.query({
    query: sql`SELECT DISTINCT partition FROM system.parts
WHERE database = currentDatabase() AND table = ${USAGE_EVENTS_TABLE} AND active`.text,
    format: 'JSONEachRow',
  });
  const parts = (await rs.json<{ partition: string }>()).map((r) => String(r.partition));
  const expired = expiredPartitions(parts, retentionDays, now);
  for (const p of expired) {
    // p is six digits (checked above): a numeric partition literal.
    await client.command({ query: `ALTER TABLE ${identifier(USAGE_EVENTS_TABLE).text} DROP PARTITION ${Number(p)}` });
  }
  return expired;
}
