export {
  quoteString,
  quoteIdentifier,
  literal,
  literalList,
  identifier,
  sql,
  joinSql,
  formatDate,
  formatDateTime,
  SqlFragment,
} from './escape';
export type { SqlValue } from './escape';
export { createClickHouse, createClickHouseClient, ensureDatabase, dropDatabase } from './client';
export type { ClickHouseClient, ClickHouseOptions } from './client';
export { runMigrations, addColumnIfMissing, appliedVersions, compareVersions, serverVersion, statementFor, MIGRATIONS_TABLE } from './migrations';
export type { GuardedStatement, Migration, RunMigrationsOptions, VersionedStatement } from './migrations';
export { traceClickHouse, describeStatement, rawInsertBody } from './tracing';
export type { ClickHouseTracingOptions } from './tracing';
