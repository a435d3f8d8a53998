import type { ColumnType, Insertable, Selectable } from 'kysely';

/** A price multiplier (parts per million, 1_000_000 = ×1) and the models a key of the group may use. */
export interface GroupsTable {
  id: string;
  name: string;
  price_multiplier_ppm: ColumnType<string, bigint | string | undefined, bigint | string>;
  /** Globs; jsonb: pass `JSON.stringify(array)`. */
  models: ColumnType<string[], string | undefined, string>;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}
export type GroupRow = Selectable<GroupsTable>;
export type NewGroup = Insertable<GroupsTable>;
