import type { ColumnType, Insertable, Selectable } from 'kysely';

/** Only the sha256 of a key is stored; the key itself is shown once at creation. */
export interface ApiKeysTable {
  id: string;
  account_id: string;
  name: string;
  /** Lower-case hex sha256 of the full key. */
  key_hash: string;
  /** The first characters of the key, for operators to recognise it. */
  key_prefix: string;
  /** Allowed public model ids (globs). jsonb: pass `JSON.stringify(array)` on insert. */
  models: ColumnType<string[], string | undefined, string>;
  revoked_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  expires_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  created_at: ColumnType<Date, Date | string | undefined, never>;
  group_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** Requests / tokens per minute; null = unlimited. */
  rpm: ColumnType<number | null, number | null | undefined, number | null>;
  tpm: ColumnType<number | null, number | null | undefined, number | null>;
  /** Spend budgets in nano-USD (UTC day / month); null = none. */
  budget_nano_per_day: ColumnType<string | null, bigint | string | null | undefined, bigint | string | null>;
  budget_nano_per_month: ColumnType<string | null, bigint | string | null | undefined, bigint | string | null>;
  route_mode: ColumnType<string | null, string | null | undefined, string | null>;
  route_preset: ColumnType<string | null, string | null | undefined, string | null>;
  rotated_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  /** Per-key routing control (migration 0005); null = no setting. jsonb arrays: pass `JSON.stringify(array)`. */
  route_allowed_channels: ColumnType<string[] | null, string | null | undefined, string | null>;
  route_order: ColumnType<string[] | null, string | null | undefined, string | null>;
  route_max_input_nano_per_mtok: ColumnType<string | null, bigint | string | null | undefined, bigint | string | null>;
  route_max_output_nano_per_mtok: ColumnType<string | null, bigint | string | null | undefined, bigint | string | null>;
  route_allow_fallbacks: ColumnType<boolean | null, boolean | null | undefined, boolean | null>;
  route_midstream_failover: ColumnType<boolean | null, boolean | null | undefined, boolean | null>;
}
export type ApiKeyRow = Selectable<ApiKeysTable>;
export type NewApiKey = Insertable<ApiKeysTable>;
