import { sql } from 'kysely';
import type { KeySnapshot } from '@switchyard/contracts';
import type { Db } from '../db/database';
import { nanoFromDb, nanoToSafeNumber } from '../money';
import type { ApiKeyRow, NewApiKey } from './api-keys.table';

export async function insertApiKey(db: Db, key: Omit<NewApiKey, 'models'> & { models: string[] }): Promise<void> {
  await db
    .insertInto('api_keys')
    .values({ ...key, models: JSON.stringify(key.models) })
    .execute();
}

export async function findKeyByHash(db: Db, keyHash: string): Promise<ApiKeyRow | undefined> {
  return db.selectFrom('api_keys').selectAll().where('key_hash', '=', keyHash).executeTakeFirst();
}

export async function findKeyById(db: Db, id: string): Promise<ApiKeyRow | undefined> {
  return db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listKeysOfAccount(db: Db, accountId: string): Promise<ApiKeyRow[]> {
  return db.selectFrom('api_keys').selectAll().where('account_id', '=', accountId).orderBy('created_at').orderBy('id').execute();
}

/** Marks the key revoked (keeping the first revocation time); undefined when no such key. */
export async function revokeKey(db: Db, id: string): Promise<{ row: ApiKeyRow; alreadyRevoked: boolean } | undefined> {
  const before = await findKeyById(db, id);
  if (!before) return undefined;
  if (before.revoked_at) return { row: before, alreadyRevoked: true };
  const row = await db
    .updateTable('api_keys')
    .set({ revoked_at: sql<Date>`now()` })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
  return row ? { row, alreadyRevoked: false } : { row: (await findKeyById(db, id))!, alreadyRevoked: true };
}

/** A key with its group's multiplier and models (null without a group). */
export type KeyWithGroup = ApiKeyRow & { group_multiplier_ppm: string | null; group_models: string[] | null };

function selectKeyWithGroup(db: Db) {
  return db
    .selectFrom('api_keys')
    .leftJoin('groups', 'groups.id', 'api_keys.group_id')
    .selectAll('api_keys')
    .select(['groups.price_multiplier_ppm as group_multiplier_ppm', 'groups.models as group_models']);
}

export async function findKeyWithGroupByHash(db: Db, keyHash: string): Promise<KeyWithGroup | undefined> {
  return selectKeyWithGroup(db).where('api_keys.key_hash', '=', keyHash).executeTakeFirst();
}

export async function findKeyWithGroupById(db: Db, id: string): Promise<KeyWithGroup | undefined> {
  return selectKeyWithGroup(db).where('api_keys.id', '=', id).executeTakeFirst();
}

export async function listKeys(db: Db, accountId?: string): Promise<KeyWithGroup[]> {
  let q = selectKeyWithGroup(db);
  if (accountId !== undefined) q = q.where('api_keys.account_id', '=', accountId);
  return q.orderBy('api_keys.created_at').orderBy('api_keys.id').execute();
}

const nanoOrNull = (v: string | null) => (v === null ? null : nanoToSafeNumber(nanoFromDb(v)));

/** The key as ingress caches it (the limit fields are optional in the contract; billing always sends them). */
export function toKeySnapshot(row: ApiKeyRow | KeyWithGroup): KeySnapshot {
  const g = 'group_multiplier_ppm' in row ? row : { group_multiplier_ppm: null, group_models: null };
  return {
    key_id: row.id,
    account_id: row.account_id,
    name: row.name,
    models: row.models,
    revoked: row.revoked_at !== null,
    expires_at: row.expires_at ? row.expires_at.toISOString() : null,
    group_id: row.group_id ?? null,
    price_multiplier_ppm: g.group_multiplier_ppm === null ? 1_000_000 : nanoToSafeNumber(nanoFromDb(g.group_multiplier_ppm)),
    group_models: g.group_models ?? ['*'],
    rpm: row.rpm ?? null,
    tpm: row.tpm ?? null,
    budget_nano_per_day: nanoOrNull(row.budget_nano_per_day ?? null),
    budget_nano_per_month: nanoOrNull(row.budget_nano_per_month ?? null),
    route_mode: row.route_mode ?? null,
    route_preset: row.route_preset ?? null,
    route_allowed_channels: row.route_allowed_channels ?? null,
    route_order: row.route_order ?? null,
    route_max_input_nano_per_mtok: nanoOrNull(row.route_max_input_nano_per_mtok ?? null),
    route_max_output_nano_per_mtok: nanoOrNull(row.route_max_output_nano_per_mtok ?? null),
    route_allow_fallbacks: row.route_allow_fallbacks ?? null,
    route_midstream_failover: row.route_midstream_failover ?? null,
  };
}
