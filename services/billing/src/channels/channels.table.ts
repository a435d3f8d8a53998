import type { ColumnType, Insertable, Selectable } from 'kysely';
import type { Provider } from '@switchyard/contracts';

export interface ChannelsTable {
  id: string;
  provider: Provider;
  base_url: string;
  /** Upstream API key. Plaintext for now (encryption at rest is a later issue); never in the catalog or logs. */
  credential: string | null;
  priority: ColumnType<number, number | undefined, number>;
  weight: ColumnType<number, number | undefined, number>;
  enabled: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}
export type ChannelRow = Selectable<ChannelsTable>;
export type NewChannel = Insertable<ChannelsTable>;
