import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type Kysely } from 'kysely';
import { createDb, type DB } from '../../services/billing/src/db/database';
import { migrateToLatest } from '../../services/billing/src/db/migrate';
import { migrations } from '../../services/billing/src/db/migrations';
import { DATABASE_URL, dropBillingSchema } from '../support/billing';

describe('billing schema migrations', () => {
  let db: Kysely<DB>;

  beforeAll(async () => {
    db = createDb(DATABASE_URL, { max: 3 });
    await dropBillingSchema(db);
  });
  afterAll(async () => {
    await db.destroy();
  });

  it('apply every migration to an empty database', async () => {
    expect(await migrateToLatest(db)).toEqual(Object.keys(migrations));
    const tables = await sql<{ table_name: string }>`
      select table_name from information_schema.tables where table_schema = current_schema() order by table_name`.execute(db);
    expect(tables.rows.map((r) => r.table_name)).toEqual(
      expect.arrayContaining(['accounts', 'balances', 'api_keys', 'channels', 'channel_models', 'prices', 'ledger', 'billing_migration']),
    );
  });

  it('are idempotent: a second run applies nothing and keeps the data', async () => {
    await db.insertInto('accounts').values({ id: 'keep', name: 'keep' }).execute();
    expect(await migrateToLatest(db)).toEqual([]);
    expect(await db.selectFrom('accounts').select('id').where('id', '=', 'keep').executeTakeFirst()).toEqual({ id: 'keep' });
  });

  it('run concurrently from several processes without applying anything twice', async () => {
    await dropBillingSchema(db);
    const others = [createDb(DATABASE_URL, { max: 1 }), createDb(DATABASE_URL, { max: 1 })];
    try {
      const runs = await Promise.all([migrateToLatest(db), ...others.map((o) => migrateToLatest(o))]);
      expect(runs.flat()).toEqual(Object.keys(migrations));
    } finally {
      await Promise.all(others.map((o) => o.destroy()));
    }
  });

  it('enforce the invariants the code relies on', async () => {
    await db.insertInto('accounts').values({ id: 'a1', name: 'a1' }).execute();
    // One ledger row per request id.
    const row = { request_id: 'r1', kind: 'usage' as const, account_id: 'a1', amount_nano: -1n, occurred_at: new Date() };
    await db.insertInto('ledger').values(row).execute();
    await expect(db.insertInto('ledger').values(row).execute()).rejects.toThrow(/unique/i);
    // Unknown providers, non-hex key hashes, negative prices and unknown ledger kinds are refused.
    await expect(
      db.insertInto('channels').values({ id: 'c1', provider: 'bogus' as 'openai', base_url: 'http://x' }).execute(),
    ).rejects.toThrow(/check/i);
    await expect(
      db.insertInto('api_keys').values({ id: 'k1', account_id: 'a1', name: 'k', key_hash: 'Z'.repeat(64), key_prefix: 'sk' }).execute(),
    ).rejects.toThrow(/check/i);
    await db.insertInto('channels').values({ id: 'c1', provider: 'openai', base_url: 'http://x' }).execute();
    await expect(
      db
        .insertInto('prices')
        .values({ channel_id: 'c1', model: 'm', input_nano_per_mtok: -1n, output_nano_per_mtok: 0n, cached_input_nano_per_mtok: 0n })
        .execute(),
    ).rejects.toThrow(/check/i);
    await expect(db.insertInto('ledger').values({ ...row, request_id: 'r2', kind: 'gift' as 'usage' }).execute()).rejects.toThrow(/check/i);
    // Keys default to every model.
    await db.insertInto('api_keys').values({ id: 'k2', account_id: 'a1', name: 'k', key_hash: 'a'.repeat(64), key_prefix: 'sk' }).execute();
    expect((await db.selectFrom('api_keys').select('models').where('id', '=', 'k2').executeTakeFirstOrThrow()).models).toEqual(['*']);
  });
});
