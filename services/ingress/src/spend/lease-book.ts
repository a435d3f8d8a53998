import { randomUUID } from 'node:crypto';
import type { LeaseReply, LeaseRequest, LeaseScope } from '@switchyard/contracts';

/** What one lease limits: the account's balance or one key's budget in one UTC day/month. */
export interface SpendScope {
  scope: LeaseScope;
  accountId: string;
  keyId: string | null;
  /** `YYYY-MM-DD` (key_day), `YYYY-MM` (key_month), null (account). */
  period: string | null;
}

/** Billing's side of the protocol; throws when billing cannot be reached (timeout, no responder, service error). */
export interface LeaseTransport {
  request(req: LeaseRequest): Promise<LeaseReply>;
}

export interface LeaseBookOptions {
  replicaId: string;
  /** Allowance asked for at a time (more when the waiting requests need more). */
  sliceNano: bigint;
  /** A background top-up starts when a lease has less than this left (default: a quarter slice). */
  lowWaterNano?: bigint;
  /** After billing had nothing more for a scope, requests that do not fit are refused without asking again for this long. */
  refusalBackoffMs: number;
  now?: () => number;
  newId?: () => string;
  /** Told of transport failures (logging). */
  onError?: (err: Error, scope: SpendScope) => void;
  /** Told of every request to billing and how it went (metrics). */
  onRequest?: (result: 'added' | 'exhausted' | 'expired' | 'unavailable' | 'released') => void;
}

/** One lease as this replica keeps it. */
export interface LocalLease {
  readonly id: string;
  readonly ref: SpendScope;
  /** Cumulative allowance billing granted. */
  granted: bigint;
  /** Real cost of the holds settled under it. */
  spent: bigint;
  /** Worst cases of the holds open under it. */
  held: bigint;
  open: number;
  /** No new hold after this (local clock: the request's send time + TTL − a margin, before billing's expiry). */
  deadline: number;
  renewAt: number;
  usedSinceRenew: boolean;
  retired: boolean;
}

export interface SpendHold {
  readonly parts: ReadonlyArray<{ lease: LocalLease; amount: bigint }>;
  /** The leases it was held under: the usage event carries them so billing can attribute the debit. */
  readonly leaseIds: string[];
  settled: boolean;
}

export type HoldRefusal = 'insufficient_balance' | 'budget_exceeded' | 'unavailable';
export type HoldResult = { ok: true; hold: SpendHold } | { ok: false; reason: HoldRefusal; scope: SpendScope };

type FlightResult = 'added' | 'exhausted' | 'expired' | 'unavailable';

interface ScopeState {
  ref: SpendScope;
  current: LocalLease | null;
  flight: Promise<FlightResult> | null;
  /** Σ worst cases of the requests waiting for a top-up: one round trip asks for all of them. */
  waiting: bigint;
  refusedUntil: number;
}

const MAX_ROUNDS = 6;

/**
 * The ingress side of spend leases: a local allowance per account and per
 * (key, budget period), granted by billing in slices. A request holds its
 * worst-case cost against every scope it falls in — synchronously while the
 * allowance lasts — and settles to its real cost when it ends, which returns
 * the rest. When an allowance runs low a top-up is asked for in the
 * background (one at a time per scope); a request waits only when the local
 * allowance cannot cover it, and is refused when billing has no more.
 *
 * Leases are renewed while they are used (a third of their TTL after each
 * grant), released when idle, and never used past their local deadline;
 * holds still open under an expired or retired lease settle to it and are
 * reported when it is released.
 */
export class LeaseBook {
  private readonly scopes = new Map<string, ScopeState>();
  /** Leases past their deadline with holds still open; released when the last settles. */
  private readonly retired = new Set<LocalLease>();
  private readonly now: () => number;
  private readonly newId: () => string;
  private readonly lowWater: bigint;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly transport: LeaseTransport,
    private readonly opts: LeaseBookOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.newId = opts.newId ?? randomUUID;
    this.lowWater = opts.lowWaterNano ?? opts.sliceNano / 4n;
  }

  /** Renews and releases in the background (every second). */
  start(tickMs = 1_000): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), tickMs);
    this.timer.unref();
  }

  /** Stops the timer and releases every lease (give back what is not committed). */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const all: LocalLease[] = [...this.retired];
    for (const st of this.scopes.values()) if (st.current) all.push(st.current);
    this.scopes.clear();
    this.retired.clear();
    await Promise.allSettled(all.map((l) => this.release(l)));
  }

  /** What a scope's current lease has left (0 without a live lease). */
  remaining(ref: SpendScope): bigint {
    const l = this.scopes.get(scopeKey(ref))?.current;
    return l && !l.retired && this.now() < l.deadline ? left(l) : 0n;
  }

  /**
   * Holds `amount` against every scope, or says which refused. No await when
   * every scope's local allowance covers it.
   */
  async hold(refs: readonly SpendScope[], amount: bigint): Promise<HoldResult> {
    const states = refs.map((r) => this.state(r));
    if (states.every((st) => this.covers(st, amount))) return { ok: true, hold: this.take(states, amount) };
    // Waiters stay counted until they are served, so one grant is sized for all of them.
    for (const st of states) st.waiting += amount;
    try {
      let added = false;
      for (let round = 0; round < MAX_ROUNDS; round++) {
        const short = states.filter((st) => !this.covers(st, amount));
        if (short.length === 0) return { ok: true, hold: this.take(states, amount) };
        const results = await Promise.all(short.map((st) => this.topUp(st, amount)));
        for (let i = 0; i < short.length; i++) {
          const r = results[i]!;
          const st = short[i]!;
          if (this.covers(st, amount)) continue;
          if (r === 'unavailable') return { ok: false, reason: 'unavailable', scope: st.ref };
          if (r === 'exhausted') return { ok: false, reason: refusalOf(st.ref), scope: st.ref };
          if (r === 'added') added = true;
        }
      }
      // Still short after several grants: others took each one first. Refuse rather than wait on.
      const st = states.find((s) => !this.covers(s, amount));
      if (!st) return { ok: true, hold: this.take(states, amount) };
      return { ok: false, reason: added ? refusalOf(st.ref) : 'unavailable', scope: st.ref };
    } finally {
      for (const st of states) st.waiting -= amount;
    }
  }

  /** Settles a hold to the request's real cost (exactly once; later calls do nothing). */
  settle(hold: SpendHold, actualNano: bigint): void {
    if (hold.settled) return;
    hold.settled = true;
    for (const { lease, amount } of hold.parts) {
      lease.held -= amount;
      lease.spent += actualNano;
      lease.open--;
      lease.usedSinceRenew = true;
      if (lease.retired) {
        if (lease.open === 0 && this.retired.delete(lease)) void this.release(lease);
      } else if (left(lease) < this.lowWater) {
        const st = this.scopes.get(scopeKey(lease.ref));
        if (st && st.current === lease) this.refill(st);
      }
    }
  }

  /** Renews leases in use, releases idle ones, retires those past their deadline. */
  tick(): void {
    const now = this.now();
    for (const [k, st] of this.scopes) {
      const l = st.current;
      if (!l) {
        if (!st.flight && st.waiting === 0n && now >= st.refusedUntil) this.scopes.delete(k);
        continue;
      }
      if (now >= l.deadline) {
        this.retire(st, l);
        continue;
      }
      if (now < l.renewAt || st.flight) continue;
      if (l.open === 0 && !l.usedSinceRenew) {
        st.current = null;
        void this.release(l);
        continue;
      }
      l.usedSinceRenew = false;
      st.flight = this.ask(st, l, left(l) < this.lowWater && now >= st.refusedUntil ? this.opts.sliceNano : 0n).finally(() => (st.flight = null));
      void st.flight;
    }
  }

  private state(ref: SpendScope): ScopeState {
    const k = scopeKey(ref);
    let st = this.scopes.get(k);
    if (!st) {
      st = { ref, current: null, flight: null, waiting: 0n, refusedUntil: 0 };
      this.scopes.set(k, st);
    }
    return st;
  }

  private covers(st: ScopeState, amount: bigint): boolean {
    const l = st.current;
    if (!l) return false;
    if (this.now() >= l.deadline) {
      this.retire(st, l);
      return false;
    }
    return left(l) >= amount;
  }

  private take(states: ScopeState[], amount: bigint): SpendHold {
    const parts = states.map((st) => {
      const lease = st.current!;
      lease.held += amount;
      lease.open++;
      lease.usedSinceRenew = true;
      if (left(lease) < this.lowWater) this.refill(st);
      return { lease, amount };
    });
    return { parts, leaseIds: parts.map((p) => p.lease.id), settled: false };
  }

  /** Waits for a grant (joining the one in flight); the grant is sized for every request waiting then. */
  private async topUp(st: ScopeState, need: bigint): Promise<FlightResult> {
    if (this.now() < st.refusedUntil) return 'exhausted';
    if (st.flight) {
      const r = await st.flight;
      if (r === 'unavailable') return r;
      return this.covers(st, need) || this.now() >= st.refusedUntil ? 'added' : 'exhausted';
    }
    const flight = (async () => {
      // One microtask: requests arriving in the same turn join before the amount is fixed.
      await Promise.resolve();
      return this.ask(st, st.current, st.waiting > this.opts.sliceNano ? st.waiting : this.opts.sliceNano, need);
    })().finally(() => (st.flight = null));
    st.flight = flight;
    return flight;
  }

  /** A top-up in the background when a lease runs low (never while one is in flight or refused). */
  private refill(st: ScopeState): void {
    if (st.flight || this.now() < st.refusedUntil) return;
    st.flight = this.ask(st, st.current, this.opts.sliceNano).finally(() => (st.flight = null));
    void st.flight;
  }

  /** One request to billing for `lease` (a new lease when null). */
  private async ask(st: ScopeState, lease: LocalLease | null, want: bigint, need = 0n): Promise<FlightResult> {
    const r = await this.askOnce(st, lease, want, need);
    this.opts.onRequest?.(r);
    return r;
  }

  private async askOnce(st: ScopeState, lease: LocalLease | null, want: bigint, need: bigint): Promise<FlightResult> {
    const sentAt = this.now();
    const l =
      lease && !lease.retired
        ? lease
        : { id: this.newId(), ref: st.ref, granted: 0n, spent: 0n, held: 0n, open: 0, deadline: 0, renewAt: 0, usedSinceRenew: false, retired: false };
    let reply: LeaseReply;
    try {
      reply = await this.transport.request(wire(l, want, this.opts.replicaId, false, need));
    } catch (e) {
      this.opts.onError?.(e as Error, st.ref);
      return 'unavailable';
    }
    if (reply.status === 'expired') {
      if (st.current === l) this.retire(st, l);
      return 'expired';
    }
    if (reply.status === 'no_balance') {
      st.refusedUntil = this.now() + this.opts.refusalBackoffMs;
      return 'exhausted';
    }
    const granted = BigInt(reply.granted_nano);
    if (granted > l.granted) l.granted = granted;
    // Billing's expiry is TTL after it answered; ours ends earlier by a margin, on our clock from before we asked.
    l.deadline = sentAt + reply.ttl_ms - Math.min(5_000, Math.floor(reply.ttl_ms / 5));
    l.renewAt = sentAt + Math.floor(reply.ttl_ms / 3);
    if (st.current !== l && !l.retired) {
      if (st.current) this.retire(st, st.current);
      st.current = l;
    }
    if (reply.trim && st.current === l) {
      // Another replica was refused here: give back what this lease does not use; a new one is taken when needed.
      this.retire(st, l);
      return 'expired';
    }
    const added = BigInt(reply.added_nano);
    if (added < want && (added === 0n || left(l) < need)) {
      // Billing had nothing more (or not enough for the request waiting): asking again at once would be refused too.
      st.refusedUntil = this.now() + this.opts.refusalBackoffMs;
      return 'exhausted';
    }
    // Less than asked but something (billing halves what it grants while replicas contend): no back-off, so the
    // next request that does not fit asks again rather than being refused while the account still has money.
    return 'added';
  }

  private retire(st: ScopeState, l: LocalLease): void {
    if (st.current === l) st.current = null;
    if (l.retired) return;
    l.retired = true;
    if (l.open > 0) this.retired.add(l);
    else void this.release(l);
  }

  /** Gives back what was not committed; billing keeps reserved what is committed and not booked yet. */
  private async release(l: LocalLease): Promise<void> {
    l.retired = true;
    if (l.granted === 0n && l.spent === 0n) return;
    try {
      await this.transport.request(wire(l, 0n, this.opts.replicaId, true));
      this.opts.onRequest?.('released');
    } catch (e) {
      this.opts.onError?.(e as Error, l.ref);
    }
  }
}

function left(l: LocalLease): bigint {
  return l.granted - l.spent - l.held;
}

function refusalOf(ref: SpendScope): HoldRefusal {
  return ref.scope === 'account' ? 'insufficient_balance' : 'budget_exceeded';
}

function scopeKey(r: SpendScope): string {
  return `${r.scope}|${r.accountId}|${r.keyId ?? ''}|${r.period ?? ''}`;
}

function wire(l: LocalLease, want: bigint, replicaId: string, release: boolean, need = 0n): LeaseRequest {
  const committed = l.spent + l.held;
  return {
    lease_id: l.id,
    replica_id: replicaId,
    account_id: l.ref.accountId,
    key_id: l.ref.keyId,
    scope: l.ref.scope,
    period: l.ref.period,
    want_nano: Number(want),
    ...(need > 0n ? { need_nano: Number(need) } : {}),
    committed_nano: Number(committed > 0n ? committed : 0n),
    release,
  };
}

const DAY_MS = 86_400_000;
/** The last UTC day formatted, reused until the clock leaves it (no ISO formatting per request). */
let periodsCache = { dayStart: NaN, periods: { day: '', month: '' } };

/** The key-budget periods a request that arrived at `at` falls in (UTC). */
export function budgetPeriods(at: Date): { day: string; month: string } {
  const t = at.getTime();
  const c = periodsCache;
  if (t >= c.dayStart && t < c.dayStart + DAY_MS) return c.periods;
  const iso = at.toISOString();
  const periods = { day: iso.slice(0, 10), month: iso.slice(0, 7) };
  periodsCache = { dayStart: t - (t % DAY_MS), periods };
  return periods;
}
