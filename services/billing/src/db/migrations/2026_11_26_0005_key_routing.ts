import { sql, type Kysely, type Migration } from 'kysely';

/**
 * Per-key routing control: the channels a key may reach (hard limit), its
 * preferred channel order, price ceilings in integer nano-USD per 1M tokens
 * (hard limits), whether fallbacks are allowed, and mid-stream failover
 * opt-in. Every column null = no setting (the system default applies).
 */
export const keyRouting: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .alterTable('api_keys')
      .addColumn('route_allowed_channels', 'jsonb', (c) => c.check(sql`jsonb_typeof(route_allowed_channels) = 'array'`))
      .addColumn('route_order', 'jsonb', (c) => c.check(sql`jsonb_typeof(route_order) = 'array'`))
      .addColumn('route_max_input_nano_per_mtok', 'bigint', (c) => c.check(sql`route_max_input_nano_per_mtok >= 0`))
      .addColumn('route_max_output_nano_per_mtok', 'bigint', (c) => c.check(sql`route_max_output_nano_per_mtok >= 0`))
      .addColumn('route_allow_fallbacks', 'boolean')
      .addColumn('route_midstream_failover', 'boolean')
      .execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    for (const c of ['route_allowed_channels', 'route_order', 'route_max_input_nano_per_mtok', 'route_max_output_nano_per_mtok', 'route_allow_fallbacks', 'route_midstream_failover']) {
      await db.schema.alterTable('api_keys').dropColumn(c).execute();
    }
  },
};
