import { sql } from 'kysely';
import type { KeySnapshot } from '@switchyard/contracts';
import type { Db } from '../db/database';
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

/** The key as ingress caches it. */
export function toKeySnapshot(row: ApiKeyRow): KeySnapshot {
  return {
    key_id: row.id,
    account_id: row.account_id,
    name: row.name,
    models: row.models,
    revoked: row.revoked_at !== null,
    expires_at: row.expires_at ? row.expires_at.toISOString() : null,
  };
}
