import { sql, type Kysely, type Migration } from 'kysely';

/**
 * Groups (price multiplier in parts-per-million, model access), per-key limits
 * and route defaults, the remaining price components, and the ledger columns
 * that keep ingress's estimate beside billing's authoritative amount.
 * Channel credentials stay in `channels.credential`; encrypted values carry
 * the `enc:v1:` prefix (see crypto/credential-cipher.ts), and plaintext left
 * from before is encrypted at start when SWITCHYARD_CREDENTIAL_KEY is set.
 */
export const groupsLimitsPricing: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('groups')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      // 1_000_000 = ×1. An exact decimal: never a float.
      .addColumn('price_multiplier_ppm', 'bigint', (c) => c.notNull().defaultTo(1_000_000).check(sql`price_multiplier_ppm >= 0`))
      .addColumn('models', 'jsonb', (c) => c.notNull().defaultTo(sql`'["*"]'::jsonb`).check(sql`jsonb_typeof(models) = 'array'`))
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .execute();

    await db.schema
      .alterTable('api_keys')
      .addColumn('group_id', 'text', (c) => c.references('groups.id').onDelete('restrict'))
      .addColumn('rpm', 'integer', (c) => c.check(sql`rpm > 0`))
      .addColumn('tpm', 'integer', (c) => c.check(sql`tpm > 0`))
      .addColumn('budget_nano_per_day', 'bigint', (c) => c.check(sql`budget_nano_per_day >= 0`))
      .addColumn('budget_nano_per_month', 'bigint', (c) => c.check(sql`budget_nano_per_month >= 0`))
      .addColumn('route_mode', 'text')
      .addColumn('route_preset', 'text')
      .addColumn('rotated_at', 'timestamptz')
      .execute();

    await db.schema
      .alterTable('prices')
      .addColumn('cache_write_nano_per_mtok', 'bigint', (c) => c.check(sql`cache_write_nano_per_mtok >= 0`))
      .addColumn('reasoning_nano_per_mtok', 'bigint', (c) => c.check(sql`reasoning_nano_per_mtok >= 0`))
      .addColumn('request_fee_nano', 'bigint', (c) => c.notNull().defaultTo(0).check(sql`request_fee_nano >= 0`))
      .execute();

    await db.schema
      .alterTable('ledger')
      // What ingress computed from its price snapshot (usage entries only).
      .addColumn('estimate_nano', 'bigint')
      // The price row and multiplier billing charged with; null = the ingress estimate was booked (no price in force).
      .addColumn('price_id', 'bigint')
      .addColumn('price_multiplier_ppm', 'bigint')
      .addColumn('cache_write_tokens', 'bigint', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema.createIndex('ledger_occurred_idx').on('ledger').columns(['occurred_at']).execute();
    await db.schema.createIndex('ledger_key_idx').on('ledger').columns(['key_id', 'occurred_at']).execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropIndex('ledger_key_idx').ifExists().execute();
    await db.schema.dropIndex('ledger_occurred_idx').ifExists().execute();
    for (const c of ['estimate_nano', 'price_id', 'price_multiplier_ppm', 'cache_write_tokens']) await db.schema.alterTable('ledger').dropColumn(c).execute();
    for (const c of ['cache_write_nano_per_mtok', 'reasoning_nano_per_mtok', 'request_fee_nano']) await db.schema.alterTable('prices').dropColumn(c).execute();
    for (const c of ['group_id', 'rpm', 'tpm', 'budget_nano_per_day', 'budget_nano_per_month', 'route_mode', 'route_preset', 'rotated_at']) {
      await db.schema.alterTable('api_keys').dropColumn(c).execute();
    }
    await db.schema.dropTable('groups').ifExists().execute();
  },
};
