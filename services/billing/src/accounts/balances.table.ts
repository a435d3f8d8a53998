import type { ColumnType, Selectable } from 'kysely';

/** One row per account. BIGINT arrives from pg as a decimal string: read it with `nanoFromDb`. */
export interface BalancesTable {
  account_id: string;
  balance_nano: ColumnType<string, bigint | string, bigint | string>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}
export type BalanceRow = Selectable<BalancesTable>;
