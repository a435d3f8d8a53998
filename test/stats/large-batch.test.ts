import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '@clickhouse/client';
import { formatDateTime, runMigrations, type ClickHouseClient } from '@switchyard/clickhouse';
import { STATS_MIGRATIONS } from '../../services/stats/src/stats.migrations';
import { findStoredRequestIds, storeUsageBatch } from '../../services/stats/src/usage.repository';
import { toUsageRow } from '../../services/stats/src/usage.table';
import { countRows, resetClickHouse, testClickHouseOptions } from '../support/clickhouse';
import { usageEvent } from './helpers';

let ch: ClickHouseClient;
beforeAll(async () => {
  ch = await resetClickHouse();
  await runMigrations(ch, STATS_MIGRATIONS);
});
afterAll(async () => {
  await ch?.close();
});

describe('large batches (STATS_BATCH_SIZE above a few thousand)', () => {
  it('are stored once and recognised as duplicates the second time, past ClickHouse’s 256 KiB query limit', async () => {
    const events = Array.from({ length: 12_000 }, (_, i) => usageEvent({ account_id: `acct_${i % 40}` }));
    const first = await storeUsageBatch(ch, events, new Date());
    expect(first.inserted).toHaveLength(12_000);
    const again = await storeUsageBatch(ch, events, new Date());
    expect(again).toEqual({ inserted: [], duplicates: events.map((e) => e.request_id) });
    expect(await countRows(ch, 'usage_events')).toBe(12_000);
  });
});

describe('the duplicate check', () => {
  it('reads the seconds of the batch, not every stored row of its accounts and day', async () => {
    // 60,000 rows of the same accounts and day, stored over the hour before the batch.
    const batchAt = new Date();
    batchAt.setUTCHours(Math.max(batchAt.getUTCHours(), 1), 30, 0, 0);
    const older = Array.from({ length: 60_000 }, (_, i) =>
      usageEvent({ account_id: `acct_${i % 10}`, occurred_at: new Date(batchAt.getTime() - 3_600_000 + (i % 1800) * 1000).toISOString() }),
    );
    for (let i = 0; i < older.length; i += 20_000) await storeUsageBatch(ch, older.slice(i, i + 20_000), new Date());
    const fresh = Array.from({ length: 1000 }, (_, i) => usageEvent({ account_id: `acct_${i % 10}`, occurred_at: new Date(batchAt.getTime() + (i % 3) * 1000).toISOString() }));
    await storeUsageBatch(ch, fresh, new Date());
    // One part, as merges leave a table: every part costs the check a granule (8,192 rows) at its edge.
    await ch.command({ query: 'OPTIMIZE TABLE usage_request_ids FINAL' });

    // A server-side cap on rows read: the check fails rather than scan the 61,000 rows of these accounts and day.
    const capped = createClient({
      url: testClickHouseOptions().url,
      database: testClickHouseOptions().database,
      clickhouse_settings: { max_rows_to_read: '30000', read_overflow_mode: 'throw' },
    });
    try {
      const insertedAt = formatDateTime(new Date());
      const unseen = usageEvent({ account_id: 'acct_1', occurred_at: new Date(batchAt.getTime() + 1500).toISOString() });
      const rows = [...fresh, unseen].map((e) => toUsageRow(e, insertedAt));
      const found = await findStoredRequestIds(capped, rows);
      expect(found.size).toBe(1000);
      expect(found.has(unseen.request_id)).toBe(false);
      // A redelivery of an hour-old event among fresh ones: found too, still without a scan.
      const mixed = [older[12_345]!, ...fresh.slice(0, 10)].map((e) => toUsageRow(e, insertedAt));
      expect([...(await findStoredRequestIds(capped, mixed))].sort()).toEqual(mixed.map((r) => r.request_id).sort());
    } finally {
      await capped.close();
    }
  });
});
