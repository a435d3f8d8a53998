import { Kysely, PostgresDialect, type Transaction } from 'kysely';
import { Pool } from 'pg';
import type { AccountsTable } from '../accounts/accounts.table';
import type { BalancesTable } from '../accounts/balances.table';
import type { ApiKeysTable } from '../keys/api-keys.table';
import type { ChannelsTable } from '../channels/channels.table';
import type { ChannelModelsTable } from '../channels/channel-models.table';
import type { PricesTable } from '../channels/prices.table';
import type { LedgerTable } from '../ledger/ledger.table';
import type { GroupsTable } from '../groups/groups.table';
import type { SpendLeasesTable } from '../leases/spend-leases.table';

export interface DB {
  accounts: AccountsTable;
  balances: BalancesTable;
  api_keys: ApiKeysTable;
  channels: ChannelsTable;
  channel_models: ChannelModelsTable;
  prices: PricesTable;
  ledger: LedgerTable;
  groups: GroupsTable;
  spend_leases: SpendLeasesTable;
}

/** What repositories take: the database or a transaction on it. */
export type Db = Kysely<DB> | Transaction<DB>;

export interface CreateDbOptions {
  max?: number;
  onError?: (err: Error) => void;
}

/**
 * A Kysely instance over a pg pool. No global pg type parsers are installed:
 * BIGINT comes back as a decimal string and is converted explicitly
 * (`nanoFromDb`), so nothing else in the process is affected.
 */
export function createDb(databaseUrl: string, opts: CreateDbOptions = {}): Kysely<DB> {
  const pool = new Pool({
    connectionString: databaseUrl,
    max: opts.max ?? 10,
    connectionTimeoutMillis: 5_000,
    application_name: 'switchyard-billing',
  });
  // An idle client losing its connection must not crash the process.
  pool.on('error', (err) => opts.onError?.(err));
  return new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
}

/** Postgres SQLSTATE of an error from the pg driver, if any. */
export function pgErrorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
