import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { quoteIdentifier } from './escape';

export type { ClickHouseClient } from '@clickhouse/client';

export interface ClickHouseOptions {
  /** Server URL, e.g. http://127.0.0.1:8123 (credentials may be in it). */
  url: string;
  /** Database every query of the client runs in. */
  database: string;
  /** Per-request timeout; a hung server fails the request instead of a batch waiting forever. Default 30 s. */
  requestTimeoutMs?: number;
  /** Sockets kept per host. Default 10. */
  maxOpenConnections?: number;
}

/**
 * A client bound to `opts.database`, without touching the network: queries
 * fail (and are retried by their callers) while the server is unreachable.
 */
export function createClickHouseClient(opts: ClickHouseOptions): ClickHouseClient {
  if (!opts.database) throw new TypeError('a ClickHouse database name is required');
  return createClient({
    url: opts.url,
    database: opts.database,
    request_timeout: opts.requestTimeoutMs ?? 30_000,
    max_open_connections: opts.maxOpenConnections ?? 10,
    application: 'switchyard',
  });
}

/** Creates the database when it is missing, then returns a client bound to it. */
export async function createClickHouse(opts: ClickHouseOptions): Promise<ClickHouseClient> {
  await ensureDatabase(opts);
  return createClickHouseClient(opts);
}

/** `CREATE DATABASE IF NOT EXISTS`, through a short-lived client on the server's default database. */
export async function ensureDatabase(opts: ClickHouseOptions): Promise<void> {
  const admin = createClient({ url: opts.url, request_timeout: opts.requestTimeoutMs ?? 30_000, application: 'switchyard' });
  try {
    await admin.command({ query: `CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(opts.database)}` });
  } finally {
    await admin.close();
  }
}

/** `DROP DATABASE IF EXISTS`: for tests and tooling, never called by a service. */
export async function dropDatabase(opts: Pick<ClickHouseOptions, 'url' | 'database' | 'requestTimeoutMs'>): Promise<void> {
  const admin = createClient({ url: opts.url, request_timeout: opts.requestTimeoutMs ?? 30_000, application: 'switchyard' });
  try {
    await admin.command({ query: `DROP DATABASE IF EXISTS ${quoteIdentifier(opts.database)}` });
  } finally {
    await admin.close();
  }
}
