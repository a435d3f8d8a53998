import type { ClickHouseClient } from '@clickhouse/client';
import { formatDateTime, quoteIdentifier } from './escape';

export interface Migration {
  /** Sorts in apply order, e.g. `0001_usage_events`. Never renamed once released. */
  version: string;
  /**
   * DDL run one at a time. ClickHouse has no transactions: a crash between two
   * statements re-runs the whole migration at the next start, so every
   * statement must be idempotent (`IF NOT EXISTS`, `IF EXISTS`).
   */
  statements: string[];
}

export interface RunMigrationsOptions {
  /** Table recording applied versions. Default `schema_migrations`. */
  table?: string;
  now?: () => Date;
}

export const MIGRATIONS_TABLE = 'schema_migrations';

/**
 * Applies the migrations not yet recorded, in order, and records each after
 * its statements ran. Returns the versions applied by this call.
 *
 * Two processes starting together may both apply a migration: statements are
 * idempotent and the version is then recorded twice, which is harmless (the
 * applied set is read with DISTINCT).
 */
export async function runMigrations(
  client: ClickHouseClient,
  migrations: readonly Migration[],
  opts: RunMigrationsOptions = {},
): Promise<string[]> {
  checkOrder(migrations);
  const table = quoteIdentifier(opts.table ?? MIGRATIONS_TABLE);
  const now = opts.now ?? (() => new Date());
  // MergeTree with ORDER BY and no PARTITION BY: valid on 18.16 and on current releases.
  await client.command({
    query: `CREATE TABLE IF NOT EXISTS ${table} (version String, applied_at DateTime('UTC')) ENGINE = MergeTree ORDER BY version`,
  });
  const applied = new Set(await appliedVersions(client, opts.table));
  const done: string[] = [];
  for (const m of migrations) {
    if (applied.has(m.version)) continue;
    for (const statement of m.statements) await client.command({ query: statement });
    await client.insert({
      table,
      values: [{ version: m.version, applied_at: formatDateTime(now()) }],
      format: 'JSONEachRow',
    });
    done.push(m.version);
  }
  return done;
}

/** Versions recorded as applied, sorted. Empty when the table does not exist yet. */
export async function appliedVersions(client: ClickHouseClient, table = MIGRATIONS_TABLE): Promise<string[]> {
  const exists = await client.query({
    query: `EXISTS TABLE ${quoteIdentifier(table)}`,
    format: 'TabSeparated',
  });
  if ((await exists.text()).trim() !== '1') return [];
  const rs = await client.query({
    query: `SELECT DISTINCT version FROM ${quoteIdentifier(table)} ORDER BY version`,
    format: 'JSONEachRow',
  });
  return (await rs.json<{ version: string }>()).map((r) => r.version);
}

function checkOrder(migrations: readonly Migration[]): void {
  for (let i = 0; i < migrations.length; i++) {
    const v = migrations[i]!.version;
    if (!v) throw new Error(`migration #${i} has no version`);
    if (i > 0 && !(migrations[i - 1]!.version < v)) {
      throw new Error(`migration versions must be unique and ascending: "${migrations[i - 1]!.version}" then "${v}"`);
    }
  }
}
