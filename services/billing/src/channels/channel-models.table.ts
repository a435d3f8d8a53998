import type { Insertable, Selectable } from 'kysely';

/** A public model id served by a channel, and the id sent upstream for it. */
export interface ChannelModelsTable {
  channel_id: string;
  model: string;
  upstream_model: string;
}
export type ChannelModelRow = Selectable<ChannelModelsTable>;
export type NewChannelModel = Insertable<ChannelModelsTable>;
