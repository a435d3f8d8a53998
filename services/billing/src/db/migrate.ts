import { Migrator, type Kysely, type MigrationResult } from 'kysely';
import type { DB } from './database';
import { migrations } from './migrations';

/** Billing's own bookkeeping tables, so another service's migrations never collide with ours. */
export const MIGRATION_TABLE = 'billing_migration';
export const MIGRATION_LOCK_TABLE = 'billing_migration_lock';

export function billingMigrator(db: Kysely<DB>): Migrator {
  return new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
  });
}

/**
 * Applies pending migrations (each in its own transaction, serialised across
 * processes by Kysely's lock table) and returns the names applied now.
 * Idempotent: a second run applies nothing.
 */
export async function migrateToLatest(db: Kysely<DB>): Promise<string[]> {
  const { error, results } = await billingMigrator(db).migrateToLatest();
  const failed = results?.find((r: MigrationResult) => r.status === 'Error');
  if (error) {
    const msg = error instanceof Error ? error.message : String(error);
    throw new Error(`migration ${failed?.migrationName ?? ''} failed: ${msg}`.replace('  ', ' '), { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
