import type { ColumnType } from 'kysely';
import type { LeaseScope } from '@switchyard/contracts';

type Int8 = ColumnType<string, bigint | string | number | undefined, bigint | string | number>;

/**
 * One spend lease (see leases/lease-grant.ts). While `now() < expires_at +
 * grace` it reserves `greatest(granted_nano - booked_nano, 0)` of its scope.
 */
export interface SpendLeasesTable {
  id: string;
  replica_id: string;
  account_id: string;
  key_id: string | null;
  scope: LeaseScope;
  /** '' (account), 'YYYY-MM-DD' (key_day), 'YYYY-MM' (key_month). */
  period: ColumnType<string, string | undefined, string>;
  granted_nano: Int8;
  committed_nano: Int8;
  booked_nano: Int8;
  released: ColumnType<boolean, boolean | undefined, boolean>;
  /** Last time a request of this lease got less than it asked (contention in the scope). */
  starved_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  expires_at: ColumnType<Date, Date | string, Date | string>;
  created_at: ColumnType<Date, Date | string | undefined, never>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}
