import { sql, type Kysely } from 'kysely';
import type { LeaseReply, LeaseRequest } from '@switchyard/contracts';
import type { DB, Db } from '../db/database';
import { nanoFromDb, nanoToSafeNumber } from '../money';
import { decideGrant, periodBounds } from './lease-grant';

export interface LeaseTimings {
  /** A lease lives this long after each grant or renewal. */
  ttlMs: number;
  /** After expiry (or release) a lease still reserves what is not booked for this long: the in-flight window. */
  graceMs: number;
}

type ParsedLeaseRequest = Required<Omit<LeaseRequest, 'release' | 'need_nano'>> & { release: boolean; need_nano?: number };

/**
 * Acquires, tops up, renews or releases one lease, in ONE transaction that
 * first locks the account's balance row (SELECT … FOR UPDATE). Settlement
 * moves that same row in every transaction that books a debit, so two
 * grants for one account never interleave, and a grant never reads a half-
 * booked batch: after the lock, one statement reads the lease, the other
 * leases' reservations and the key's spend in the period.
 */
export async function grantLease(db: Kysely<DB>, req: ParsedLeaseRequest, t: LeaseTimings): Promise<LeaseReply> {
  const period = req.scope === 'account' ? '' : (req.period ?? '');
  const bounds = req.scope === 'account' ? null : periodBounds(req.scope, req.period);
  const ttlMs = Math.max(1, Math.round(t.ttlMs));
  const base = { lease_id: req.lease_id, ttl_ms: ttlMs };
  return db.transaction().execute(async (trx) => {
    const bal = await sql<{ balance_nano: string }>`select balance_nano from balances where account_id = ${req.account_id} for update`.execute(trx);
    const balance = bal.rows[0];
    if (!balance) return { ...base, status: 'no_balance', granted_nano: 0, added_nano: 0, limit_nano: null };
    const keyId = req.key_id ?? '';
    const budgetCol = req.scope === 'key_month' ? sql.ref('budget_nano_per_month') : sql.ref('budget_nano_per_day');
    const r = await sql<{
      cur_granted: string | null;
      cur_booked: string | null;
      cur_live: boolean | null;
      others: string;
      spent: string;
      budget: string | null;
      key_ok: boolean;
      contended: boolean;
    }>`
      with cur as (
        select granted_nano, booked_nano, (not released and expires_at > now()) as live from spend_leases where id = ${req.lease_id}
      ), others as (
        select coalesce(sum(greatest(granted_nano - booked_nano, 0)), 0) as reserved from spend_leases
        where account_id = ${req.account_id} and scope = ${req.scope} and period = ${period}
          and coalesce(key_id, '') = ${keyId} and id <> ${req.lease_id}
          and expires_at > now() - make_interval(secs => ${t.graceMs / 1000})
      )
      select
        exists (
          select 1 from spend_leases
          where account_id = ${req.account_id} and scope = ${req.scope} and period = ${period} and coalesce(key_id, '') = ${keyId}
            and id <> ${req.lease_id} and not released and expires_at > now() and starved_at > now() - make_interval(secs => ${ttlMs / 1000})
        ) as contended,
        (select granted_nano::text from cur) as cur_granted,
        (select booked_nano::text from cur) as cur_booked,
        (select live from cur) as cur_live,
        (select reserved::text from others) as others,
        ${
          bounds
            ? sql`(select coalesce(-sum(amount_nano), 0)::text from ledger where kind = 'usage' and key_id = ${keyId} and occurred_at >= ${bounds.from} and occurred_at < ${bounds.to})`
            : sql`'0'`
        } as spent,
        ${req.scope === 'account' ? sql`null` : sql`(select ${budgetCol}::text from api_keys where id = ${keyId} and account_id = ${req.account_id})`} as budget,
        ${req.scope === 'account' ? sql`true` : sql`exists (select 1 from api_keys where id = ${keyId} and account_id = ${req.account_id} and revoked_at is null)`} as key_ok
    `.execute(trx);
    const row = r.rows[0]!;
    const exists = row.cur_granted !== null;
    if (exists && !row.cur_live) {
      return { ...base, status: 'expired', granted_nano: nanoToSafeNumber(nanoFromDb(row.cur_granted!)), added_nano: 0, limit_nano: null };
    }
    const limit = req.scope === 'account' ? nanoFromDb(balance.balance_nano) : !row.key_ok || !bounds ? 0n : row.budget === null ? null : nanoFromDb(row.budget);
    const decision = decideGrant({
      limitNano: limit,
      spentNano: nanoFromDb(row.spent),
      othersReservedNano: nanoFromDb(row.others),
      current: exists ? { grantedNano: nanoFromDb(row.cur_granted!), bookedNano: nanoFromDb(row.cur_booked!) } : null,
      wantNano: BigInt(req.want_nano),
      committedNano: BigInt(req.committed_nano),
      release: req.release,
      contended: row.contended,
      needNano: BigInt(req.need_nano ?? 0),
    });
    const expires = req.release ? sql<Date>`now()` : sql<Date>`now() + make_interval(secs => ${ttlMs / 1000})`;
    const starved = !req.release && decision.addedNano < BigInt(req.want_nano);
    // Contention: another replica was refused here lately, and this lease holds allowance it has not committed.
    // Only a plain renewal is told to trim: a top-up for waiting requests is served.
    const trim = !req.release && req.want_nano === 0 && row.contended && decision.grantedNano > BigInt(req.committed_nano);
    if (exists) {
      await trx
        .updateTable('spend_leases')
        .set({
          granted_nano: decision.grantedNano.toString(),
          committed_nano: req.committed_nano.toString(),
          released: req.release,
          expires_at: expires,
          starved_at: starved ? sql<Date>`now()` : null,
          updated_at: sql<Date>`now()`,
        })
        .where('id', '=', req.lease_id)
        .execute();
    } else {
      // A new lease is rare (per replica, per idle spell): the moment to forget this scope's long-dead ones.
      await sql`delete from spend_leases where account_id = ${req.account_id} and scope = ${req.scope} and expires_at < now() - make_interval(secs => ${t.graceMs / 1000}) - interval '1 day'`.execute(trx);
      await trx
        .insertInto('spend_leases')
        .values({
          id: req.lease_id,
          replica_id: req.replica_id,
          account_id: req.account_id,
          key_id: req.key_id,
          scope: req.scope,
          period,
          granted_nano: decision.grantedNano.toString(),
          committed_nano: req.committed_nano.toString(),
          released: req.release,
          expires_at: expires,
          starved_at: starved ? sql<Date>`now()` : null,
        })
        .execute();
    }
    return {
      ...base,
      status: 'granted',
      granted_nano: nanoToSafeNumber(decision.grantedNano),
      added_nano: nanoToSafeNumber(decision.addedNano),
      limit_nano: limit === null ? null : nanoToSafeNumber(limit),
      ...(trim ? { trim: true } : {}),
    };
  });
}

/**
 * Adds booked debits to the leases they were held under (inside the
 * settlement transaction, after the balance rows are locked). `amounts`:
 * lease id → nano-USD booked now (positive).
 */
export async function addBookedToLeases(trx: Db, amounts: ReadonlyMap<string, bigint>): Promise<void> {
  if (amounts.size === 0) return;
  const values = sql.join([...amounts].map(([id, nano]) => sql`(${id}::text, ${nano.toString()}::bigint)`));
  await sql`update spend_leases set booked_nano = booked_nano + v.nano from (values ${values}) as v(id, nano) where spend_leases.id = v.id`.execute(trx);
}

/** What a scope's live leases reserve now (operators, tests). */
export async function reservedBy(db: Db, accountId: string, graceMs: number): Promise<bigint> {
  const r = await sql<{ reserved: string }>`
    select coalesce(sum(greatest(granted_nano - booked_nano, 0)), 0)::text as reserved from spend_leases
    where account_id = ${accountId} and scope = 'account' and expires_at > now() - make_interval(secs => ${graceMs / 1000})`.execute(db);
  return nanoFromDb(r.rows[0]!.reserved);
}
