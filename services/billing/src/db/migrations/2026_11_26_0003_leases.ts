import { sql, type Kysely, type Migration } from 'kysely';

/**
 * Spend leases: slices of an account's balance, or of a key's daily/monthly
 * budget, that billing grants to one ingress replica so it can admit requests
 * without a database round trip each (see leases/lease-grant.ts for the
 * invariant). `period` is '' for the account scope so the scope columns are
 * never null.
 */
export const leases: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('spend_leases')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('replica_id', 'text', (c) => c.notNull())
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('key_id', 'text')
      .addColumn('scope', 'text', (c) => c.notNull().check(sql`scope in ('account', 'key_day', 'key_month')`))
      .addColumn('period', 'text', (c) => c.notNull().defaultTo(''))
      // Cumulative allowance granted; what ingress last said it committed (settled + open holds); debits booked under it.
      .addColumn('granted_nano', 'bigint', (c) => c.notNull().defaultTo(0).check(sql`granted_nano >= 0`))
      .addColumn('committed_nano', 'bigint', (c) => c.notNull().defaultTo(0).check(sql`committed_nano >= 0`))
      .addColumn('booked_nano', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('released', 'boolean', (c) => c.notNull().defaultTo(false))
      // Set when a request of this lease got less than it asked: other replicas' leases are then asked to trim.
      .addColumn('starved_at', 'timestamptz')
      .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .execute();
    await db.schema.createIndex('spend_leases_scope_idx').on('spend_leases').columns(['account_id', 'scope', 'expires_at']).execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('spend_leases').ifExists().execute();
  },
};
