import { describe, expect, it } from 'vitest';
import { decideGrant, periodBounds, reservationOf } from './lease-grant';

const base = { spentNano: 0n, othersReservedNano: 0n, current: null, committedNano: 0n, release: false };

describe('decideGrant', () => {
  it('grants what is asked while the balance covers it', () => {
    expect(decideGrant({ ...base, limitNano: 10_000n, wantNano: 3_000n })).toEqual({ addedNano: 3_000n, grantedNano: 3_000n });
  });

  it('grants only the balance left after the other leases reserve theirs', () => {
    expect(decideGrant({ ...base, limitNano: 10_000n, othersReservedNano: 8_500n, wantNano: 3_000n })).toEqual({ addedNano: 1_500n, grantedNano: 1_500n });
  });

  it('never grants a negative amount when others already reserve everything (or the balance is negative)', () => {
    expect(decideGrant({ ...base, limitNano: 100n, othersReservedNano: 400n, wantNano: 50n }).addedNano).toBe(0n);
    expect(decideGrant({ ...base, limitNano: -5n, wantNano: 50n }).addedNano).toBe(0n);
  });

  it("counts the lease's own unbooked reservation, not what is already booked", () => {
    // Granted 5,000, 3,000 of it booked (already out of the balance): 2,000 still reserved by it.
    const current = { grantedNano: 5_000n, bookedNano: 3_000n };
    expect(decideGrant({ ...base, limitNano: 7_000n, current, wantNano: 10_000n })).toEqual({ addedNano: 5_000n, grantedNano: 10_000n });
  });

  it('key budgets: budget − spent in the period − others', () => {
    expect(decideGrant({ ...base, limitNano: 1_000_000n, spentNano: 600_000n, othersReservedNano: 300_000n, wantNano: 500_000n }).addedNano).toBe(100_000n);
  });

  it('no budget (null limit): grants what is asked', () => {
    expect(decideGrant({ ...base, limitNano: null, wantNano: 123n }).addedNano).toBe(123n);
  });

  it('a renewal never reserves less than what the replica committed (a request that cost more than its hold)', () => {
    const d = decideGrant({ ...base, limitNano: 1_000n, current: { grantedNano: 500n, bookedNano: 0n }, committedNano: 700n, wantNano: 0n });
    expect(d).toEqual({ addedNano: 0n, grantedNano: 700n });
  });

  it('a release keeps only the committed part reserved', () => {
    const d = decideGrant({ ...base, limitNano: 1_000n, current: { grantedNano: 900n, bookedNano: 100n }, committedNano: 300n, wantNano: 0n, release: true });
    expect(d.grantedNano).toBe(300n);
    expect(reservationOf({ grantedNano: d.grantedNano, bookedNano: 100n })).toBe(200n);
  });

  it('under contention a grant takes half of what is left, but always enough for the waiting request when that much is left', () => {
    expect(decideGrant({ ...base, limitNano: 1_000n, wantNano: 5_000n, contended: true }).addedNano).toBe(500n);
    expect(decideGrant({ ...base, limitNano: 1_000n, wantNano: 5_000n, contended: true, needNano: 700n }).addedNano).toBe(700n);
    expect(decideGrant({ ...base, limitNano: 1_000n, wantNano: 5_000n, contended: true, needNano: 3_000n }).addedNano).toBe(1_000n);
    expect(decideGrant({ ...base, limitNano: 1_001n, wantNano: 100n, contended: true }).addedNano).toBe(100n);
  });

  it('is exact beyond 2^53 nano-USD', () => {
    const big = 2n ** 60n;
    expect(decideGrant({ ...base, limitNano: big + 1n, othersReservedNano: big, wantNano: 5n }).addedNano).toBe(1n);
  });

  it('two replicas asking one after another never get more than the balance between them', () => {
    const limit = 1_000n;
    const a = decideGrant({ ...base, limitNano: limit, wantNano: 700n });
    const b = decideGrant({ ...base, limitNano: limit, othersReservedNano: reservationOf({ grantedNano: a.grantedNano, bookedNano: 0n }), wantNano: 700n });
    expect(a.addedNano + b.addedNano).toBe(limit);
  });
});

describe('periodBounds', () => {
  it('a UTC day and a UTC month', () => {
    expect(periodBounds('key_day', '2026-11-26')).toEqual({ from: new Date('2026-11-26T00:00:00Z'), to: new Date('2026-11-27T00:00:00Z') });
    expect(periodBounds('key_month', '2026-12')).toEqual({ from: new Date('2026-12-01T00:00:00Z'), to: new Date('2027-01-01T00:00:00Z') });
  });

  it('refuses malformed periods', () => {
    expect(periodBounds('key_day', '2026-02-30')).toBeNull();
    expect(periodBounds('key_month', '2026-13')).toBeNull();
    expect(periodBounds('key_day', null)).toBeNull();
    expect(periodBounds('account', null)).toBeNull();
  });
});
