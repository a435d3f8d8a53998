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
}
export type ApiKeyRow = Selectable<ApiKeysTable>;
export type NewApiKey = Insertable<ApiKeysTable>;
