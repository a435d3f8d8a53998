import type { ColumnType, GeneratedAlways, Insertable, Selectable } from 'kysely';

type Nano = ColumnType<string, bigint | string, bigint | string>;

/**
 * Append-only price history per (channel, model), integer nano-USD per 1M
 * tokens. The price in force is the row with the latest `effective_from`
 * not in the future (ties: the latest id).
 */
export interface PricesTable {
  id: GeneratedAlways<string>;
  channel_id: string;
  model: string;
  input_nano_per_mtok: Nano;
  output_nano_per_mtok: Nano;
  cached_input_nano_per_mtok: Nano;
  /** Null: priced as input. */
  cache_write_nano_per_mtok: ColumnType<string | null, bigint | string | null | undefined, never>;
  /** Null: priced as output. */
  reasoning_nano_per_mtok: ColumnType<string | null, bigint | string | null | undefined, never>;
  request_fee_nano: ColumnType<string, bigint | string | undefined, never>;
  effective_from: ColumnType<Date, Date | string | undefined, never>;
}
export type PriceRow = Selectable<PricesTable>;
export type NewPrice = Insertable<PricesTable>;
