import { describe, expect, it } from 'vitest';
import type { LeaseReply, LeaseRequest } from '@switchyard/contracts';
import { LeaseBook, budgetPeriods, type LeaseTransport, type SpendScope } from './lease-book';

const ACCOUNT: SpendScope = { scope: 'account', accountId: 'acme', keyId: null, period: null };
const DAY: SpendScope = { scope: 'key_day', accountId: 'acme', keyId: 'k1', period: '2026-11-26' };

/** Billing in miniature: a limit per scope, leases reserving granted − booked (nothing booked here). */
class FakeBilling implements LeaseTransport {
  readonly requests: LeaseRequest[] = [];
  readonly leases = new Map<string, { scope: string; granted: bigint; committed: bigint; released: boolean }>();
  limits = new Map<string, bigint>([['account', 10_000n]]);
  down = false;
  ttlMs = 30_000;
  gate: Promise<void> | null = null;

  async request(req: LeaseRequest): Promise<LeaseReply> {
    this.requests.push(req);
    if (this.gate) await this.gate;
    if (this.down) throw new Error('no responders');
    let l = this.leases.get(req.lease_id);
    if (l?.released) return { lease_id: req.lease_id, status: 'expired', granted_nano: Number(l.granted), added_nano: 0, ttl_ms: this.ttlMs, limit_nano: null };
    if (!l) this.leases.set(req.lease_id, (l = { scope: req.scope, granted: 0n, committed: 0n, released: false }));
    l.committed = BigInt(req.committed_nano);
    if (req.release) {
      l.released = true;
      l.granted = l.committed;
      return { lease_id: req.lease_id, status: 'granted', granted_nano: Number(l.granted), added_nano: 0, ttl_ms: this.ttlMs, limit_nano: null };
    }
    const limit = this.limits.get(req.scope) ?? 0n;
    let reserved = 0n;
    for (const o of this.leases.values()) if (o.scope === req.scope) reserved += o.granted;
    const room = limit - reserved;
    const add = BigInt(req.want_nano) < room ? BigInt(req.want_nano) : room > 0n ? room : 0n;
    l.granted += add;
    return { lease_id: req.lease_id, status: 'granted', granted_nano: Number(l.granted), added_nano: Number(add), ttl_ms: this.ttlMs, limit_nano: Number(limit) };
  }
}

function setup(opts: { slice?: bigint; backoff?: number } = {}) {
  const billing = new FakeBilling();
  let t = 1_000_000;
  let n = 0;
  const book = new LeaseBook(billing, {
    replicaId: 'r1',
    sliceNano: opts.slice ?? 1_000n,
    refusalBackoffMs: opts.backoff ?? 1_000,
    now: () => t,
    newId: () => `lease-${++n}`,
  });
  return { billing, book, advance: (ms: number) => (t += ms) };
}

describe('LeaseBook', () => {
  it('takes a slice on the first hold, then holds locally without asking billing', async () => {
    const { billing, book } = setup();
    const first = await book.hold([ACCOUNT], 100n);
    expect(first.ok).toBe(true);
    expect(billing.requests).toHaveLength(1);
    expect(billing.requests[0]).toMatchObject({ scope: 'account', want_nano: 1_000, committed_nano: 0 });
    for (let i = 0; i < 5; i++) expect((await book.hold([ACCOUNT], 100n)).ok).toBe(true);
    expect(billing.requests).toHaveLength(1);
    expect(book.remaining(ACCOUNT)).toBe(400n);
  });

  it('settling returns what the request did not cost, exactly once', async () => {
    const { book } = setup();
    const r = await book.hold([ACCOUNT], 600n);
    if (!r.ok) throw new Error('refused');
    expect(book.remaining(ACCOUNT)).toBe(400n);
    book.settle(r.hold, 150n);
    expect(book.remaining(ACCOUNT)).toBe(850n);
    book.settle(r.hold, 150n);
    expect(book.remaining(ACCOUNT)).toBe(850n);
  });

  it('concurrent holds that miss share one request to billing, sized for all of them', async () => {
    const { billing, book } = setup({ slice: 100n });
    let open!: () => void;
    billing.gate = new Promise((r) => (open = r));
    const pending = Array.from({ length: 50 }, () => book.hold([ACCOUNT], 10n));
    open();
    const results = await Promise.all(pending);
    expect(results.every((r) => r.ok)).toBe(true);
    // One slice could not cover 500: the second round asks for what the waiters need.
    expect(billing.requests.length).toBeLessThanOrEqual(3);
    expect(book.remaining(ACCOUNT)).toBeGreaterThanOrEqual(0n);
  });

  it('refuses with insufficient_balance when billing has no more, and does not ask again during the backoff', async () => {
    const { billing, book, advance } = setup();
    billing.limits.set('account', 250n);
    expect((await book.hold([ACCOUNT], 200n)).ok).toBe(true);
    const r = await book.hold([ACCOUNT], 200n);
    expect(r).toMatchObject({ ok: false, reason: 'insufficient_balance' });
    const asked = billing.requests.length;
    expect((await book.hold([ACCOUNT], 200n)).ok).toBe(false);
    expect(billing.requests.length).toBe(asked);
    // Smaller requests that fit what is left still pass.
    expect((await book.hold([ACCOUNT], 50n)).ok).toBe(true);
    billing.limits.set('account', 10_000n);
    advance(1_001);
    expect((await book.hold([ACCOUNT], 200n)).ok).toBe(true);
  });

  it('holds against the account and the key budget together; a budget refusal says budget_exceeded and holds nothing', async () => {
    const { billing, book } = setup();
    billing.limits.set('key_day', 300n);
    const a = await book.hold([ACCOUNT, DAY], 200n);
    expect(a.ok).toBe(true);
    if (a.ok) expect(a.hold.leaseIds).toHaveLength(2);
    const b = await book.hold([ACCOUNT, DAY], 200n);
    expect(b).toMatchObject({ ok: false, reason: 'budget_exceeded', scope: { scope: 'key_day' } });
    expect(book.remaining(ACCOUNT)).toBe(800n);
  });

  it('serves from the unexpired local lease while billing is unreachable, then refuses as unavailable', async () => {
    const { billing, book } = setup();
    expect((await book.hold([ACCOUNT], 500n)).ok).toBe(true);
    billing.down = true;
    expect((await book.hold([ACCOUNT], 400n)).ok).toBe(true);
    expect(await book.hold([ACCOUNT], 400n)).toMatchObject({ ok: false, reason: 'unavailable' });
  });

  it('never holds under a lease past its deadline: a new lease is taken, the old one released when its last hold settles', async () => {
    const { billing, book, advance } = setup();
    const r = await book.hold([ACCOUNT], 300n);
    if (!r.ok) throw new Error('refused');
    advance(30_000);
    expect(book.remaining(ACCOUNT)).toBe(0n);
    const r2 = await book.hold([ACCOUNT], 100n);
    if (!r2.ok) throw new Error('refused');
    expect(r2.hold.leaseIds).toEqual(['lease-2']);
    book.settle(r.hold, 120n);
    await new Promise((res) => setImmediate(res));
    const release = billing.requests.find((q) => q.lease_id === 'lease-1' && q.release);
    expect(release).toMatchObject({ committed_nano: 120 });
    expect(billing.leases.get('lease-1')!.granted).toBe(120n);
  });

  it('renews a lease in use with what it committed, and releases an idle one', async () => {
    const { billing, book, advance } = setup();
    const r = await book.hold([ACCOUNT], 300n);
    if (!r.ok) throw new Error('refused');
    advance(10_001);
    book.tick();
    await new Promise((res) => setImmediate(res));
    expect(billing.requests.at(-1)).toMatchObject({ lease_id: 'lease-1', want_nano: 0, committed_nano: 300, release: false });
    book.settle(r.hold, 50n);
    advance(10_001);
    book.tick(); // used since the last renewal: renewed again
    await new Promise((res) => setImmediate(res));
    expect(billing.requests.at(-1)).toMatchObject({ committed_nano: 50, release: false });
    advance(10_001);
    book.tick(); // idle: released
    await new Promise((res) => setImmediate(res));
    expect(billing.requests.at(-1)).toMatchObject({ lease_id: 'lease-1', committed_nano: 50, release: true });
    expect(book.remaining(ACCOUNT)).toBe(0n);
  });

  it('a renewal told to trim stops using the lease and releases what it does not use', async () => {
    const { billing, book, advance } = setup();
    const r = await book.hold([ACCOUNT], 300n);
    if (!r.ok) throw new Error('refused');
    const real = billing.request.bind(billing);
    billing.request = async (q) => ({ ...(await real(q)), ...(q.want_nano === 0 && !q.release ? { trim: true } : {}) });
    advance(10_001);
    book.tick();
    await new Promise((res) => setImmediate(res));
    expect(book.remaining(ACCOUNT)).toBe(0n);
    book.settle(r.hold, 100n);
    await new Promise((res) => setImmediate(res));
    expect(billing.requests.at(-1)).toMatchObject({ lease_id: 'lease-1', release: true, committed_nano: 100 });
    // The next request takes a new lease.
    const r2 = await book.hold([ACCOUNT], 10n);
    expect(r2.ok && r2.hold.leaseIds).toEqual(['lease-2']);
  });

  it('tops up in the background when the allowance falls under the low-water mark', async () => {
    const { billing, book } = setup();
    const r = await book.hold([ACCOUNT], 800n);
    expect(r.ok).toBe(true);
    await new Promise((res) => setImmediate(res));
    expect(billing.requests).toHaveLength(2);
    expect(book.remaining(ACCOUNT)).toBe(1_200n);
  });

  it('close() gives back everything not committed', async () => {
    const { billing, book } = setup();
    const r = await book.hold([ACCOUNT], 100n);
    if (!r.ok) throw new Error('refused');
    book.settle(r.hold, 40n);
    await book.close();
    expect(billing.leases.get('lease-1')).toMatchObject({ released: true, granted: 40n });
  });
});

describe('budgetPeriods', () => {
  it('names the UTC day and month of each instant, also across midnight and month ends', () => {
    expect(budgetPeriods(new Date('2026-11-30T23:59:59.999Z'))).toEqual({ day: '2026-11-30', month: '2026-11' });
    expect(budgetPeriods(new Date('2026-11-30T12:00:00.000Z'))).toEqual({ day: '2026-11-30', month: '2026-11' });
    expect(budgetPeriods(new Date('2026-12-01T00:00:00.000Z'))).toEqual({ day: '2026-12-01', month: '2026-12' });
    expect(budgetPeriods(new Date('2026-11-30T23:59:59.999Z'))).toEqual({ day: '2026-11-30', month: '2026-11' });
    expect(budgetPeriods(new Date('2027-01-01T00:00:00.001Z'))).toEqual({ day: '2027-01-01', month: '2027-01' });
  });
});
