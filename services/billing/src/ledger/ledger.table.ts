import type { ColumnType, GeneratedAlways, Insertable, Selectable } from 'kysely';

export type LedgerKind = 'usage' | 'topup' | 'adjustment';
export const LEDGER_KINDS: readonly LedgerKind[] = ['usage', 'topup', 'adjustment'];

type Int8 = ColumnType<string, bigint | string | number | undefined, never>;

/**
 * Append-only books, one row per request id (the idempotency key). The sum of
 * an account's `amount_nano` equals its balance. Rows are never updated,
 * except `balance_after_nano`, which is filled inside the transaction that
 * inserted the row.
 */
export interface LedgerTable {
  id: GeneratedAlways<string>;
  request_id: string;
  kind: LedgerKind;
  account_id: string;
  key_id: string | null;
  /** Negative = debit. */
  amount_nano: ColumnType<string, bigint | string, never>;
  /** Null only for usage of an account that has no balance row (logged at settle time). */
  balance_after_nano: ColumnType<string | null, bigint | string | null | undefined, bigint | string>;
  model: string | null;
  channel_id: string | null;
  input_tokens: Int8;
  output_tokens: Int8;
  cached_input_tokens: Int8;
  reasoning_tokens: Int8;
  trace_id: string | null;
  /** Usage: ingress's cost from its price snapshot. */
  estimate_nano: ColumnType<string | null, bigint | string | null | undefined, never>;
  /** Usage: the price row billing charged with (null: no price in force, the estimate × multiplier was booked). */
  price_id: ColumnType<string | null, bigint | string | null | undefined, never>;
  price_multiplier_ppm: ColumnType<string | null, bigint | string | null | undefined, never>;
  cache_write_tokens: Int8;
  occurred_at: ColumnType<Date, Date | string, never>;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}
export type LedgerRow = Selectable<LedgerTable>;
export type NewLedgerRow = Insertable<LedgerTable>;
