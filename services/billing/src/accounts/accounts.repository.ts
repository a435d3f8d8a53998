import type { Db } from '../db/database';
import { nanoFromDb } from '../money';
import type { AccountRow } from './accounts.table';

export async function findAccount(db: Db, id: string): Promise<AccountRow | undefined> {
  return db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Inserts the account and its zero balance; false (and nothing written) when the id exists. */
export async function insertAccountIfMissing(db: Db, account: { id: string; name: string }): Promise<boolean> {
  const created = await db
    .insertInto('accounts')
    .values({ id: account.id, name: account.name })
    .onConflict((oc) => oc.column('id').doNothing())
    .returning('id')
    .executeTakeFirst();
  if (!created) return false;
  await db.insertInto('balances').values({ account_id: account.id, balance_nano: 0n }).execute();
  return true;
}

export async function findBalanceNano(db: Db, accountId: string): Promise<bigint | undefined> {
  const row = await db.selectFrom('balances').select('balance_nano').where('account_id', '=', accountId).executeTakeFirst();
  return row ? nanoFromDb(row.balance_nano) : undefined;
}
