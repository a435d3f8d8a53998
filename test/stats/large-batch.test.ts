import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMigrations, type ClickHouseClient } from '@switchyard/clickhouse';
import { STATS_MIGRATIONS } from '../../services/stats/src/stats.migrations';
import { storeUsageBatch } from '../../services/stats/src/usage.repository';
import { countRows, resetClickHouse } from '../support/clickhouse';
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
