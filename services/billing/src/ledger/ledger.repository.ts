import { sql, type Transaction } from 'kysely';
import type { Db, DB } from '../db/database';
import { countFromDb, nanoFromDb } from '../money';
import type { LedgerKind, LedgerRow, NewLedgerRow } from './ledger.table';

/** Rows per INSERT, well under Postgres' 65,535 bind parameters. */
const CHUNK = 1_000;

/** A ledger row with money as bigint and counts as numbers. */
export interface LedgerEntry {
  id: string;
  request_id: string;
  kind: LedgerKind;
  account_id: string;
  key_id: string | null;
  amount_nano: bigint;
  balance_after_nano: bigint | null;
  model: string | null;
  channel_id: string | null;
  input_tokens: number;
  output_tokens: number;
  cached_input_tokens: number;
  reasoning_tokens: number;
  trace_id: string | null;
  occurred_at: Date;
  created_at: Date;
}

export function toLedgerEntry(row: LedgerRow): LedgerEntry {
  return {
    ...row,
    amount_nano: nanoFromDb(row.amount_nano),
    balance_after_nano: row.balance_after_nano === null ? null : nanoFromDb(row.balance_after_nano),
    input_tokens: countFromDb(row.input_tokens),
    output_tokens: countFromDb(row.output_tokens),
    cached_input_tokens: countFromDb(row.cached_input_tokens),
    reasoning_tokens: countFromDb(row.reasoning_tokens),
  };
}

export type NewEntry = Omit<NewLedgerRow, 'balance_after_nano' | 'account_id' | 'amount_nano'> & { amount_nano: bigint };

export interface PostResult {
  /** request_id → balance after that entry, for the entries inserted now (null: the account has no balance row). */
  posted: Map<string, bigint | null>;
  /** Entries whose request id was already in the ledger: nothing changed for them. */
  duplicates: string[];
  /** False when the account has no balance row: entries are booked, no balance moved. */
  balanceFound: boolean;
}

/**
 * Books entries of ONE account inside the caller's transaction, exactly once
 * per request id: rows are inserted with ON CONFLICT (request_id) DO NOTHING,
 * and only the rows inserted now move the balance, by their sum, in one
 * UPDATE (which also serialises concurrent posters on the account row).
 * `balance_after_nano` is then filled per row in the given order. A
 * concurrent poster of the same request id waits on the unique index and
 * then sees the conflict, so there is never a second balance move.
 */
export async function postEntries(trx: Transaction<DB>, accountId: string, entries: NewEntry[]): Promise<PostResult> {
  const inserted = new Map<string, { id: string; amount: bigint }>();
  for (let i = 0; i < entries.length; i += CHUNK) {
    const rows = await trx
      .insertInto('ledger')
      .values(entries.slice(i, i + CHUNK).map((e) => ({ ...e, account_id: accountId, amount_nano: e.amount_nano })))
      .onConflict((oc) => oc.column('request_id').doNothing())
      .returning(['id', 'request_id', 'amount_nano'])
      .execute();
    for (const r of rows) inserted.set(r.request_id, { id: r.id, amount: nanoFromDb(r.amount_nano) });
  }
  const duplicates = entries.filter((e) => !inserted.has(e.request_id)).map((e) => e.request_id);
  const posted = new Map<string, bigint | null>();
  if (inserted.size === 0) return { posted, duplicates, balanceFound: true };

  let sum = 0n;
  for (const { amount } of inserted.values()) sum += amount;
  const balance = await trx
    .updateTable('balances')
    .set({ balance_nano: sql<string>`balance_nano + ${sum.toString()}::bigint`, updated_at: sql<Date>`now()` })
    .where('account_id', '=', accountId)
    .returning('balance_nano')
    .executeTakeFirst();
  if (!balance) {
    for (const id of inserted.keys()) posted.set(id, null);
    return { posted, duplicates, balanceFound: false };
  }

  let running = nanoFromDb(balance.balance_nano) - sum;
  const after: Array<{ id: string; after: bigint }> = [];
  for (const e of entries) {
    const row = inserted.get(e.request_id);
    if (!row || posted.has(e.request_id)) continue;
    running += row.amount;
    posted.set(e.request_id, running);
    after.push({ id: row.id, after: running });
  }
  for (let i = 0; i < after.length; i += CHUNK) {
    const values = sql.join(after.slice(i, i + CHUNK).map((a) => sql`(${a.id}::bigint, ${a.after.toString()}::bigint)`));
    await sql`update ledger set balance_after_nano = v.after from (values ${values}) as v(id, after) where ledger.id = v.id`.execute(trx);
  }
  return { posted, duplicates, balanceFound: true };
}

export async function findLedgerEntry(db: Db, requestId: string): Promise<LedgerEntry | undefined> {
  const row = await db.selectFrom('ledger').selectAll().where('request_id', '=', requestId).executeTakeFirst();
  return row ? toLedgerEntry(row) : undefined;
}

/** The most recent entries of an account, newest first. */
export async function listLedgerEntries(db: Db, accountId: string, limit: number): Promise<LedgerEntry[]> {
  const rows = await db
    .selectFrom('ledger')
    .selectAll()
    .where('account_id', '=', accountId)
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
  return rows.map(toLedgerEntry);
}
