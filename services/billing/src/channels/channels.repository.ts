import { sql, type Kysely, type Transaction } from 'kysely';
import type { CatalogChannel } from '@switchyard/contracts';
import type { Db, DB } from '../db/database';
import { nanoFromDb, nanoToSafeNumber } from '../money';
import type { ChannelRow, NewChannel } from './channels.table';
import type { NewChannelModel } from './channel-models.table';
import { CIPHERTEXT_PREFIX, decryptCredential, encryptCredential } from '../crypto/credential-cipher';
import { readOAuthCredential, rotateRefreshToken, type ChannelSettings } from './channel-credential';

export async function findChannel(db: Db, id: string): Promise<Omit<ChannelRow, 'credential' | 'credential_type' | 'settings'> | undefined> {
  return db
    .selectFrom('channels')
    .select(['id', 'provider', 'base_url', 'priority', 'weight', 'enabled', 'created_at'])
    .where('id', '=', id)
    .executeTakeFirst();
}

export async function listChannelModels(db: Db, channelId: string): Promise<NewChannelModel[]> {
  return db.selectFrom('channel_models').selectAll().where('channel_id', '=', channelId).orderBy('model').execute();
}

/**
 * Creates or updates a channel and makes its model list exactly `models`.
 * A credential of `undefined` keeps the stored one (so re-running a command
 * without the secret does not wipe it); `null` clears it.
 */
export async function upsertChannel(
  trx: Transaction<DB>,
  channel: Omit<NewChannel, 'created_at'>,
  models: Array<{ model: string; upstream_model: string }>,
): Promise<{ created: boolean }> {
  const { credential, ...rest } = channel;
  const row = await trx
    .insertInto('channels')
    .values({ ...rest, credential: credential ?? null })
    .onConflict((oc) =>
      oc.column('id').doUpdateSet((eb) => ({
        provider: eb.ref('excluded.provider'),
        base_url: eb.ref('excluded.base_url'),
        priority: eb.ref('excluded.priority'),
        weight: eb.ref('excluded.weight'),
        enabled: eb.ref('excluded.enabled'),
        settings: eb.ref('excluded.settings'),
        ...(credential !== undefined ? { credential: eb.ref('excluded.credential'), credential_type: eb.ref('excluded.credential_type') } : {}),
      })),
    )
    // xmax = 0 only for a freshly inserted row.
    .returning(sql<boolean>`(xmax = 0)`.as('created'))
    .executeTakeFirstOrThrow();
  let removed = trx.deleteFrom('channel_models').where('channel_id', '=', channel.id);
  if (models.length > 0) removed = removed.where('model', 'not in', models.map((m) => m.model));
  await removed.execute();
  if (models.length > 0) {
    await trx
      .insertInto('channel_models')
      .values(models.map((m) => ({ channel_id: channel.id, model: m.model, upstream_model: m.upstream_model })))
      .onConflict((oc) => oc.columns(['channel_id', 'model']).doUpdateSet((eb) => ({ upstream_model: eb.ref('excluded.upstream_model') })))
      .execute();
  }
  return { created: row.created };
}

export async function insertPrice(
  db: Db,
  price: {
    channel_id: string;
    model: string;
    input: bigint;
    output: bigint;
    cached_input: bigint;
    cache_write?: bigint | null;
    reasoning?: bigint | null;
    request_fee?: bigint;
    effective_from?: Date;
  },
): Promise<{ id: string; effective_from: Date }> {
  return db
    .insertInto('prices')
    .values({
      channel_id: price.channel_id,
      model: price.model,
      input_nano_per_mtok: price.input,
      output_nano_per_mtok: price.output,
      cached_input_nano_per_mtok: price.cached_input,
      cache_write_nano_per_mtok: price.cache_write ?? null,
      reasoning_nano_per_mtok: price.reasoning ?? null,
      request_fee_nano: price.request_fee ?? 0n,
      ...(price.effective_from ? { effective_from: price.effective_from } : {}),
    })
    .returning(['id', 'effective_from'])
    .executeTakeFirstOrThrow();
}

export interface CurrentPrice {
  input_nano_per_mtok: bigint;
  output_nano_per_mtok: bigint;
  cached_input_nano_per_mtok: bigint;
  effective_from: Date;
}

/** The price in force now for one (channel, model), if any. */
export async function findCurrentPrice(db: Db, channelId: string, model: string): Promise<CurrentPrice | undefined> {
  const row = await db
    .selectFrom('prices')
    .select(['input_nano_per_mtok', 'output_nano_per_mtok', 'cached_input_nano_per_mtok', 'effective_from'])
    .where('channel_id', '=', channelId)
    .where('model', '=', model)
    .where('effective_from', '<=', sql<Date>`now()`)
    .orderBy('effective_from', 'desc')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    input_nano_per_mtok: nanoFromDb(row.input_nano_per_mtok),
    output_nano_per_mtok: nanoFromDb(row.output_nano_per_mtok),
    cached_input_nano_per_mtok: nanoFromDb(row.cached_input_nano_per_mtok),
    effective_from: row.effective_from,
  };
}

export interface LoadedCatalog {
  channels: CatalogChannel[];
  /** (channel, model) pairs left out because no price is in force yet. */
  unpriced: Array<{ channel_id: string; model: string }>;
}

/**
 * The channel catalog with the prices in force now. Never selects the
 * credential. A model without a current price is left out (and reported in
 * `unpriced`): routing to it would serve requests nobody is billed for.
 */
export async function loadCatalog(db: Db): Promise<LoadedCatalog> {
  const channels = await db
    .selectFrom('channels')
    .select(['id', 'provider', 'base_url', 'priority', 'weight', 'enabled'])
    .orderBy('id')
    .execute();
  const models = await db
    .selectFrom('channel_models as cm')
    .leftJoinLateral(
      (eb) =>
        eb
          .selectFrom('prices as p')
          .select(['p.input_nano_per_mtok', 'p.output_nano_per_mtok', 'p.cached_input_nano_per_mtok', 'p.cache_write_nano_per_mtok'])
          .whereRef('p.channel_id', '=', 'cm.channel_id')
          .whereRef('p.model', '=', 'cm.model')
          .where('p.effective_from', '<=', sql<Date>`now()`)
          .orderBy('p.effective_from', 'desc')
          .orderBy('p.id', 'desc')
          .limit(1)
          .as('price'),
      (join) => join.onTrue(),
    )
    .select([
      'cm.channel_id',
      'cm.model',
      'cm.upstream_model',
      'price.input_nano_per_mtok',
      'price.output_nano_per_mtok',
      'price.cached_input_nano_per_mtok',
      'price.cache_write_nano_per_mtok',
    ])
    .orderBy('cm.channel_id')
    .orderBy('cm.model')
    .execute();

  const byChannel = new Map<string, CatalogChannel['models']>();
  const unpriced: LoadedCatalog['unpriced'] = [];
  for (const m of models) {
    if (m.input_nano_per_mtok === null || m.output_nano_per_mtok === null || m.cached_input_nano_per_mtok === null) {
      unpriced.push({ channel_id: m.channel_id, model: m.model });
      continue;
    }
    let list = byChannel.get(m.channel_id);
    if (!list) byChannel.set(m.channel_id, (list = []));
    list.push({
      model: m.model,
      upstream_model: m.upstream_model,
      price: {
        input_nano_per_mtok: nanoToSafeNumber(nanoFromDb(m.input_nano_per_mtok)),
        output_nano_per_mtok: nanoToSafeNumber(nanoFromDb(m.output_nano_per_mtok)),
        cached_input_nano_per_mtok: nanoToSafeNumber(nanoFromDb(m.cached_input_nano_per_mtok)),
        // Ingress prices cache writes in its estimate; absent means the input rate.
        ...(m.cache_write_nano_per_mtok !== null ? { cache_write_nano_per_mtok: nanoToSafeNumber(nanoFromDb(m.cache_write_nano_per_mtok)) } : {}),
      },
    });
  }
  return {
    channels: channels.map((c) => ({ ...c, models: byChannel.get(c.id) ?? [] })),
    unpriced,
  };
}

/** The upstream credential of one channel: undefined when the channel does not exist. */
export async function findChannelCredential(
  db: Db,
  channelId: string,
): Promise<{ credential: string | null; credential_type: 'api_key' | 'oauth'; settings: ChannelSettings } | undefined> {
  return db.selectFrom('channels').select(['credential', 'credential_type', 'settings']).where('id', '=', channelId).executeTakeFirst();
}

/**
 * Stores the refresh token an OAuth token endpoint rotated to, if the channel
 * still holds the one refreshed from (its SHA-256 is `expectedSha256`). The
 * row is locked while it is compared, so of two replicas reporting at once
 * exactly one wins. Re-encrypted with a fresh IV.
 */
export async function compareAndSetRefreshToken(
  db: Kysely<DB>,
  channelId: string,
  expectedSha256: string,
  next: string,
  key: Buffer | null,
): Promise<'stored' | 'unchanged' | 'stale' | 'not_found'> {
  return db.transaction().execute(async (trx) => {
    const row = await trx.selectFrom('channels').select(['credential', 'credential_type']).where('id', '=', channelId).forUpdate().executeTakeFirst();
    if (!row || row.credential_type !== 'oauth' || !row.credential) return 'not_found';
    const grant = readOAuthCredential(decryptCredential(row.credential, key));
    if (!grant) return 'not_found';
    const r = rotateRefreshToken(grant, expectedSha256, next);
    if (r.outcome !== 'write') return r.outcome === 'already' ? 'unchanged' : 'stale';
    await trx.updateTable('channels').set({ credential: encryptCredential(JSON.stringify(r.grant), key) }).where('id', '=', channelId).execute();
    return 'stored';
  });
}

/** Encrypts every credential still stored as plaintext (from before encryption); returns how many. */
export async function encryptLegacyCredentials(db: Db, key: Buffer): Promise<number> {
  const rows = await db
    .selectFrom('channels')
    .select(['id', 'credential'])
    .where('credential', 'is not', null)
    .where('credential', 'not like', `${CIPHERTEXT_PREFIX}%`)
    .execute();
  for (const r of rows) {
    await db
      .updateTable('channels')
      .set({ credential: encryptCredential(r.credential!, key) })
      .where('id', '=', r.id)
      .where('credential', '=', r.credential)
      .execute();
  }
  return rows.length;
}

export async function listChannels(db: Db): Promise<Array<Omit<ChannelRow, 'credential'> & { has_credential: boolean; models: NewChannelModel[] }>> {
  const channels = await db
    .selectFrom('channels')
    .select(['id', 'provider', 'base_url', 'priority', 'weight', 'enabled', 'created_at', 'credential_type', 'settings'])
    .select(sql<boolean>`credential is not null`.as('has_credential'))
    .orderBy('id')
    .execute();
  const models = await db.selectFrom('channel_models').selectAll().orderBy('channel_id').orderBy('model').execute();
  return channels.map((c) => ({ ...c, models: models.filter((m) => m.channel_id === c.id) }));
}
