import { sql, type Kysely, type Migration } from 'kysely';

/**
 * Accounts, balances, API keys (hashes only), channels with their models and
 * price history, and the append-only ledger keyed by request id.
 * Migrations take `Kysely<unknown>`: they describe the schema of their own
 * time, not today's `DB` type.
 */
export const init: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('accounts')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .execute();

    await db.schema
      .createTable('balances')
      .addColumn('account_id', 'text', (c) => c.primaryKey().references('accounts.id').onDelete('restrict'))
      .addColumn('balance_nano', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .execute();

    await db.schema
      .createTable('api_keys')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id').onDelete('restrict'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('key_hash', 'char(64)', (c) => c.notNull().unique().check(sql`key_hash ~ '^[0-9a-f]{64}$'`))
      .addColumn('key_prefix', 'text', (c) => c.notNull())
      .addColumn('models', 'jsonb', (c) => c.notNull().defaultTo(sql`'["*"]'::jsonb`).check(sql`jsonb_typeof(models) = 'array'`))
      .addColumn('revoked_at', 'timestamptz')
      .addColumn('expires_at', 'timestamptz')
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .execute();
    await db.schema.createIndex('api_keys_account_idx').on('api_keys').column('account_id').execute();

    await db.schema
      .createTable('channels')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('provider', 'text', (c) =>
        c.notNull().check(sql`provider in ('openai', 'azure-openai', 'anthropic', 'gemini', 'openai-compatible')`),
      )
      .addColumn('base_url', 'text', (c) => c.notNull())
      .addColumn('credential', 'text')
      .addColumn('priority', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('weight', 'integer', (c) => c.notNull().defaultTo(1).check(sql`weight >= 0`))
      .addColumn('enabled', 'boolean', (c) => c.notNull().defaultTo(true))
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .execute();

    await db.schema
      .createTable('channel_models')
      .addColumn('channel_id', 'text', (c) => c.notNull().references('channels.id').onDelete('cascade'))
      .addColumn('model', 'text', (c) => c.notNull())
      .addColumn('upstream_model', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('channel_models_pk', ['channel_id', 'model'])
      .execute();

    // Prices reference the channel, not (channel, model): dropping a model from
    // a channel keeps its price history, and re-adding it finds the price again.
    await db.schema
      .createTable('prices')
      .addColumn('id', 'bigserial', (c) => c.primaryKey())
      .addColumn('channel_id', 'text', (c) => c.notNull().references('channels.id').onDelete('cascade'))
      .addColumn('model', 'text', (c) => c.notNull())
      .addColumn('input_nano_per_mtok', 'bigint', (c) => c.notNull().check(sql`input_nano_per_mtok >= 0`))
      .addColumn('output_nano_per_mtok', 'bigint', (c) => c.notNull().check(sql`output_nano_per_mtok >= 0`))
      .addColumn('cached_input_nano_per_mtok', 'bigint', (c) => c.notNull().check(sql`cached_input_nano_per_mtok >= 0`))
      .addColumn('effective_from', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .execute();
    await db.schema
      .createIndex('prices_current_idx')
      .on('prices')
      .columns(['channel_id', 'model', 'effective_from desc', 'id desc'])
      .execute();

    // The ledger records facts: no foreign keys, so a usage event for an
    // account or key that was removed (or not yet replicated) is still booked
    // instead of blocking the consumer.
    await db.schema
      .createTable('ledger')
      .addColumn('id', 'bigserial', (c) => c.primaryKey())
      .addColumn('request_id', 'text', (c) => c.notNull().unique())
      .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('usage', 'topup', 'adjustment')`))
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('key_id', 'text')
      .addColumn('amount_nano', 'bigint', (c) => c.notNull())
      .addColumn('balance_after_nano', 'bigint')
      .addColumn('model', 'text')
      .addColumn('channel_id', 'text')
      // bigint, not integer: no schema-valid usage event may fail the insert and stall the consumer.
      .addColumn('input_tokens', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('output_tokens', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('cached_input_tokens', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('reasoning_tokens', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('trace_id', 'text')
      .addColumn('occurred_at', 'timestamptz', (c) => c.notNull())
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .execute();
    await db.schema.createIndex('ledger_account_idx').on('ledger').columns(['account_id', 'occurred_at']).execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    for (const t of ['ledger', 'prices', 'channel_models', 'channels', 'api_keys', 'balances', 'accounts']) {
      await db.schema.dropTable(t).ifExists().execute();
    }
  },
};
