import type { LeaseScope } from '@switchyard/contracts';

/**
 * The arithmetic of spend leases, in exact bigint nano-USD.
 *
 * A lease reserves `max(0, granted − booked)` of its scope while
 * `now < expires_at + grace`: what its replica may still cause to be booked.
 * A grant keeps, for every scope,
 *
 *     spent + Σ reservations ≤ limit
 *
 * where limit/spent are the balance/0 for the account scope (the balance is
 * already net of what was booked) and the budget/the key's usage debits in
 * the period for a key budget. Every booked debit of a leased request moves
 * `spent` (or the balance) and the lease's `booked` by the same amount, so
 * the sum does not change when the ledger catches up; the only way past the
 * limit is a request whose real cost exceeds its hold (an upstream that
 * ignores max_tokens), and only by that excess.
 */

export interface LeaseState {
  grantedNano: bigint;
  bookedNano: bigint;
}

export interface GrantInput {
  /** The balance (account) or the budget (key scopes); null: no budget, nothing to limit. */
  limitNano: bigint | null;
  /** Key scopes: usage debits of the key in the period. The account scope: 0. */
  spentNano: bigint;
  /** Σ reservations of the scope's other leases that still reserve. */
  othersReservedNano: bigint;
  /** This lease as stored (null: a new lease). */
  current: LeaseState | null;
  /** More allowance asked for. */
  wantNano: bigint;
  /** What the replica says it committed under this lease (settled + open holds). */
  committedNano: bigint;
  release: boolean;
  /**
   * Another replica was refused in this scope lately: a grant then takes at
   * most half of what is left (but always enough for `needNano`, the waiting
   * request's worst case, when that much is left), so the allowance is shared.
   */
  contended?: boolean;
  needNano?: bigint;
}

export interface GrantDecision {
  addedNano: bigint;
  /** The lease's cumulative grant after this request. */
  grantedNano: bigint;
}

export function reservationOf(lease: LeaseState): bigint {
  const r = lease.grantedNano - lease.bookedNano;
  return r > 0n ? r : 0n;
}

/**
 * Decides one lease request. A release keeps reserved only what was
 * committed and is not booked yet (granted := committed); a renewal never
 * reserves less than what was committed (granted := max(granted, committed),
 * so a request that cost more than its hold stays reserved until booked);
 * a top-up adds `min(want, headroom)`, headroom = limit − spent − others −
 * this lease's own reservation, never below 0.
 */
export function decideGrant(i: GrantInput): GrantDecision {
  const prior = i.current?.grantedNano ?? 0n;
  if (i.release) return { addedNano: 0n, grantedNano: i.committedNano };
  const base = prior > i.committedNano ? prior : i.committedNano;
  let added = i.wantNano > 0n ? i.wantNano : 0n;
  if (i.limitNano !== null && added > 0n) {
    const own = reservationOf({ grantedNano: base, bookedNano: i.current?.bookedNano ?? 0n });
    let headroom = i.limitNano - i.spentNano - i.othersReservedNano - own;
    if (i.contended && headroom > 0n) {
      const need = i.needNano ?? 0n;
      const half = (headroom + 1n) / 2n;
      headroom = need > half ? (need < headroom ? need : headroom) : half;
    }
    if (headroom < added) added = headroom > 0n ? headroom : 0n;
  }
  return { addedNano: added, grantedNano: base + added };
}

/** The UTC period a key budget lease covers: [from, to). */
export function periodBounds(scope: LeaseScope, period: string | null): { from: Date; to: Date } | null {
  if (scope === 'key_day') {
    const m = period ? /^(\d{4})-(\d{2})-(\d{2})$/.exec(period) : null;
    if (!m) return null;
    const from = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
    if (Number.isNaN(from.getTime()) || from.toISOString().slice(0, 10) !== period) return null;
    return { from, to: new Date(from.getTime() + 86_400_000) };
  }
  if (scope === 'key_month') {
    const m = period ? /^(\d{4})-(\d{2})$/.exec(period) : null;
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 12) return null;
    return { from: new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, 1)), to: new Date(Date.UTC(Number(m[1]), Number(m[2]), 1)) };
  }
  return null;
}
