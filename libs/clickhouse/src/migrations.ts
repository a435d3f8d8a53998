import type { ClickHouseClient } from '@clickhouse/client';
import { formatDateTime, quoteIdentifier, quoteString } from './escape';

/**
 * A statement that only some server versions understand (e.g. table TTL,
 * 19.6+): run when the server is at least `minServerVersion`, else
 * `otherwise` (if given) or nothing.
 */
export interface VersionedStatement {
  sql: string;
  minServerVersion: string;
  otherwise?: string;
}

/**
 * A statement run only when `skipIf` (a query) returns no row or a first
 * value of 0 — for DDL that has no `IF NOT EXISTS` on every supported server
 * (18.16 has none for `ADD COLUMN`). Build with `addColumnIfMissing`.
 */
export interface GuardedStatement {
  sql: string;
  skipIf: string;
}

/** `ALTER TABLE … ADD COLUMN`, skipped when the column exists (idempotent on 18.16 and on current releases). */
export function addColumnIfMissing(table: string, column: string, definition: string): GuardedStatement {
  return {
    sql: `ALTER TABLE ${quoteIdentifier(table)} ADD COLUMN ${quoteIdentifier(column)} ${definition}`,
    skipIf: `SELECT count() AS n FROM system.columns WHERE database = currentDatabase() AND table = ${quoteString(table)} AND name = ${quoteString(column)}`,
  };
}

export interface Migration {
  /** Sorts in apply order, e.g. `0001_usage_events`. Never renamed once released. */
  version: string;
  /**
   * DDL run one at a time. ClickHouse has no transactions: a crash between two
   * statements re-runs the whole migration at the next start, so every
   * statement must be idempotent (`IF NOT EXISTS`, `IF EXISTS`).
   */
  statements: Array<string | VersionedStatement | GuardedStatement>;
}

/** Compares dotted numeric versions ('18.16.1' < '19.6' < '24.8.4.13'); missing parts count as 0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => parseInt(x, 10) || 0);
  const pb = b.split('.').map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** The server's `version()`, e.g. '18.16.1' or '24.8.4.13'. */
export async function serverVersion(client: ClickHouseClient): Promise<string> {
  const rs = await client.query({ query: 'SELECT version() AS v', format: 'JSONEachRow' });
  const [row] = await rs.json<{ v: string }>();
  if (!row) throw new Error('SELECT version() returned no row');
  return row.v;
}

/** The SQL to run for a statement on a server of `version` (undefined: nothing to run). */
export function statementFor(s: string | VersionedStatement, version: string | undefined): string | undefined {
  if (typeof s === 'string') return s;
  if (version === undefined) throw new Error('a versioned statement needs the server version');
  return compareVersions(version, s.minServerVersion) >= 0 ? s.sql : s.otherwise;
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
  let version: string | undefined;
  for (const m of migrations) {
    if (applied.has(m.version)) continue;
    for (const statement of m.statements) {
      if (typeof statement !== 'string' && 'skipIf' in statement) {
        const rs = await client.query({ query: statement.skipIf, format: 'JSONEachRow' });
        const [row] = await rs.json<Record<string, unknown>>();
        const first = row ? Object.values(row)[0] : undefined;
        if (first === undefined || Number(first) === 0) await client.command({ query: statement.sql });
        continue;
      }
      if (typeof statement !== 'string') version ??= await serverVersion(client);
      const text = statementFor(statement, version);
      if (text !== undefined) await client.command({ query: text });
    }
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
