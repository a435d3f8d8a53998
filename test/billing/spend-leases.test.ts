import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import type { NatsConnection } from '@nats-io/transport-node';
import { SPEND_LEASE_SUBJECT, leaseReplySchema, type LeaseReply, type LeaseRequest } from '@switchyard/contracts';
import type { DB } from '../../services/billing/src/db/database';
import { createAccount, createKey } from '../../services/billing/src/admin.commands';
import { grantLease, reservedBy } from '../../services/billing/src/leases/lease.repository';
import { leaseRequestSchema } from '@switchyard/contracts';
import { settleUsageBatch } from '../../services/billing/src/ledger/usage.settlement';
import { startBilling, type RunningBilling } from '../../services/billing/src/start-billing';
import { ACME, adminDeps, balanceNano, connectTestNats, freshBillingDb, usageEvent } from '../support/billing';

const USD = 1_000_000_000n;
const TIMINGS = { ttlMs: 30_000, graceMs: 0 };

let db: Kysely<DB>;
let nc: NatsConnection;

function req(overrides: Partial<LeaseRequest> = {}) {
  return leaseRequestSchema.parse({
    lease_id: randomUUID(),
    replica_id: 'replica-a',
    account_id: ACME,
    key_id: null,
    scope: 'account',
    period: null,
    want_nano: 0,
    committed_nano: 0,
    ...overrides,
  });
}

beforeAll(async () => {
  nc = await connectTestNats();
});

beforeEach(async () => {
  db = await freshBillingDb();
  await createAccount(adminDeps(db, nc), { id: ACME, balance_usd: '10.00' });
});

afterEach(async () => {
  await db.destroy();
});

afterAll(async () => {
  await nc.drain();
});

describe('spend leases at billing', () => {
  it('never grants more than the balance across 40 concurrent requests from two replicas', async () => {
    const replies = await Promise.all(
      Array.from({ length: 40 }, (_, i) => grantLease(db, req({ replica_id: i % 2 ? 'a' : 'b', want_nano: Number(USD / 2n) + i }), TIMINGS)),
    );
    const total = replies.reduce((s, r) => s + BigInt(r.added_nano), 0n);
    expect(total).toBe(10n * USD);
    expect(replies.filter((r) => r.added_nano > 0).length).toBeGreaterThanOrEqual(19);
    expect(await reservedBy(db, ACME, 0)).toBe(10n * USD);
  });

  it('a top-up of one lease accumulates; billing counts its own unbooked reservation', async () => {
    const r = req({ want_nano: Number(4n * USD) });
    const a = await grantLease(db, r, TIMINGS);
    const b = await grantLease(db, { ...r, want_nano: Number(8n * USD) }, TIMINGS);
    expect(a).toMatchObject({ status: 'granted', added_nano: Number(4n * USD), granted_nano: Number(4n * USD) });
    expect(b).toMatchObject({ status: 'granted', added_nano: Number(6n * USD), granted_nano: Number(10n * USD), limit_nano: Number(10n * USD) });
  });

  it('booked usage under a lease moves the balance and ends the same amount of reservation: the sum stays within the balance', async () => {
    const lease = req({ want_nano: Number(10n * USD) });
    await grantLease(db, lease, TIMINGS);
    const events = Array.from({ length: 5 }, () => usageEvent({ account_id: ACME, cost_nano: 300_000_000, lease_ids: [lease.lease_id] }));
    await settleUsageBatch(db, events);
    // Billing prices authoritatively; with no price row the estimate is booked.
    expect(await balanceNano(db, ACME)).toBe(10n * USD - 1_500_000_000n);
    expect(await reservedBy(db, ACME, 0)).toBe(10n * USD - 1_500_000_000n);
    // Redelivery: nothing booked twice, to the ledger or to the lease.
    await settleUsageBatch(db, events);
    expect(await reservedBy(db, ACME, 0)).toBe(10n * USD - 1_500_000_000n);
    // Another replica finds nothing left.
    expect((await grantLease(db, req({ replica_id: 'b', want_nano: 1 }), TIMINGS)).added_nano).toBe(0);
  });

  it('a release gives back what was not committed, and keeps the committed part until the ledger books it', async () => {
    const lease = req({ want_nano: Number(10n * USD) });
    await grantLease(db, lease, TIMINGS);
    await grantLease(db, { ...lease, committed_nano: Number(2n * USD), release: true }, { ttlMs: 30_000, graceMs: 60_000 });
    expect(await reservedBy(db, ACME, 60_000)).toBe(2n * USD);
    expect((await grantLease(db, req({ replica_id: 'b', want_nano: Number(10n * USD) }), { ttlMs: 30_000, graceMs: 60_000 })).added_nano).toBe(Number(8n * USD));
    await settleUsageBatch(db, [usageEvent({ account_id: ACME, cost_nano: Number(2n * USD), lease_ids: [lease.lease_id] })]);
    expect(await reservedBy(db, ACME, 60_000)).toBe(8n * USD);
    // A released lease is over: a renewal of it says so.
    expect((await grantLease(db, { ...lease, want_nano: 1 }, TIMINGS)).status).toBe('expired');
  });

  it('an expired lease stops reserving after the grace: its allowance goes to others', async () => {
    const short = { ttlMs: 1_000, graceMs: 500 };
    await grantLease(db, req({ want_nano: Number(10n * USD) }), short);
    expect((await grantLease(db, req({ replica_id: 'b', want_nano: 1 }), short)).added_nano).toBe(0);
    await new Promise((r) => setTimeout(r, 1_700));
    expect((await grantLease(db, req({ replica_id: 'b', want_nano: Number(10n * USD) }), short)).added_nano).toBe(Number(10n * USD));
  });

  it('key budgets: budget − the key’s spend in the UTC day − other leases; a month budget separately', async () => {
    const deps = adminDeps(db, nc);
    const key = await createKey(deps, { account: ACME, name: 'budgeted', limits: { budget_usd_per_day: '1.00', budget_usd_per_month: '3.00' } });
    const now = new Date();
    const day = now.toISOString().slice(0, 10);
    await settleUsageBatch(db, [usageEvent({ account_id: ACME, key_id: key.id, cost_nano: 250_000_000 })]);
    const d = await grantLease(db, req({ key_id: key.id, scope: 'key_day', period: day, want_nano: Number(USD) }), TIMINGS);
    expect(d).toMatchObject({ status: 'granted', added_nano: 750_000_000, limit_nano: Number(USD) });
    const d2 = await grantLease(db, req({ key_id: key.id, scope: 'key_day', period: day, want_nano: 1 }), TIMINGS);
    expect(d2.added_nano).toBe(0);
    const m = await grantLease(db, req({ key_id: key.id, scope: 'key_month', period: day.slice(0, 7), want_nano: Number(5n * USD) }), TIMINGS);
    expect(m.added_nano).toBe(2_750_000_000);
    // Yesterday's spend is not today's.
    const tomorrow = new Date(now.getTime() + 86_400_000).toISOString().slice(0, 10);
    expect((await grantLease(db, req({ key_id: key.id, scope: 'key_day', period: tomorrow, want_nano: Number(USD) }), TIMINGS)).added_nano).toBe(Number(USD));
  });

  it('when a replica is refused, the others are asked at their next renewal to give back what they do not use', async () => {
    const a = req({ replica_id: 'a', want_nano: Number(10n * USD) });
    await grantLease(db, a, TIMINGS);
    const b = req({ replica_id: 'b', want_nano: Number(USD) });
    expect((await grantLease(db, b, TIMINGS)).added_nano).toBe(0);
    // A's renewal: it committed $2 of its $10, so it is told to trim.
    const renewal = await grantLease(db, { ...a, want_nano: 0, committed_nano: Number(2n * USD) }, TIMINGS);
    expect(renewal.trim).toBe(true);
    // A top-up for waiting requests is never told to trim.
    expect((await grantLease(db, { ...a, want_nano: 1, committed_nano: Number(2n * USD) }, TIMINGS)).trim).toBeUndefined();
    await grantLease(db, { ...a, committed_nano: Number(2n * USD), release: true }, TIMINGS);
    expect((await grantLease(db, { ...b, want_nano: Number(USD) }, TIMINGS)).added_nano).toBe(Number(USD));
    // B got what it asked: no longer starved, nobody is asked to trim.
    const c = req({ replica_id: 'c', want_nano: 1 });
    await grantLease(db, c, TIMINGS);
    expect((await grantLease(db, { ...c, want_nano: 0 }, TIMINGS)).trim).toBeUndefined();
  });

  it('forgets a scope’s long-dead leases when a new one starts', async () => {
    await db
      .insertInto('spend_leases')
      .values({ id: 'ancient', replica_id: 'gone', account_id: ACME, key_id: null, scope: 'account', granted_nano: '5', expires_at: new Date(Date.now() - 3 * 86_400_000) })
      .execute();
    await grantLease(db, req({ want_nano: 1 }), TIMINGS);
    expect(await db.selectFrom('spend_leases').select('id').where('id', '=', 'ancient').executeTakeFirst()).toBeUndefined();
    expect(await db.selectFrom('spend_leases').select('id').where('account_id', '=', ACME).execute()).toHaveLength(1);
  });

  it('an account without a balance row gets nothing', async () => {
    expect(await grantLease(db, req({ account_id: 'nobody', want_nano: 5 }), TIMINGS)).toMatchObject({ status: 'no_balance', added_nano: 0 });
  });

  describe('over NATS', () => {
    let billing: RunningBilling;
    beforeEach(async () => {
      billing = await startBilling({ config: { port: 0, host: '127.0.0.1', consumeUsage: false, leaseTtlMs: 5_000 } });
    });
    afterEach(async () => {
      await billing.close();
    });

    it('answers lease requests on the billing queue group, and a malformed one with a service error', async () => {
      const msg = await nc.request(SPEND_LEASE_SUBJECT, JSON.stringify(req({ want_nano: 1_000 })), { timeout: 5_000 });
      const reply: LeaseReply = leaseReplySchema.parse(msg.json());
      expect(reply).toMatchObject({ status: 'granted', added_nano: 1_000, ttl_ms: 5_000 });
      const bad = await nc.request(SPEND_LEASE_SUBJECT, JSON.stringify({ lease_id: 'x' }), { timeout: 5_000 });
      expect(bad.data.length).toBe(0);
      expect(bad.headers?.get('Nats-Service-Error-Code')).toBe('500');
    });
  });
});
