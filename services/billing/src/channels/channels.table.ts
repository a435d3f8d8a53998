import type { ColumnType, Insertable, Selectable } from 'kysely';
import type { Provider } from '@switchyard/contracts';
import type { ChannelSettings } from './channel-credential';

export interface ChannelsTable {
  id: string;
  provider: Provider;
  base_url: string;
  /** Upstream credential, AES-GCM encrypted (`enc:v1:`): an API key, or the JSON of an OAuth grant. Never in the catalog or logs. */
  credential: string | null;
  /** What `credential` holds. */
  credential_type: ColumnType<'api_key' | 'oauth', 'api_key' | 'oauth' | undefined, 'api_key' | 'oauth'>;
  /** Non-secret provider settings (`{ api_version }` for Azure OpenAI). */
  settings: ColumnType<ChannelSettings, string | undefined, string>;
  priority: ColumnType<number, number | undefined, number>;
  weight: ColumnType<number, number | undefined, number>;
  enabled: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}
export type ChannelRow = Selectable<ChannelsTable>;
export type NewChannel = Insertable<ChannelsTable>;
