import type { ColumnType, Insertable, Selectable } from 'kysely';

export interface AccountsTable {
  id: string;
  name: string;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}
export type AccountRow = Selectable<AccountsTable>;
export type NewAccount = Insertable<AccountsTable>;
