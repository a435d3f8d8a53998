import { describe, expect, it } from 'vitest';
import { PoolSelector, stableHash, type PoolMember } from './pool-strategies';
import { seededRandom } from './seeded-random';

const members = (...ids: string[]): PoolMember[] => ids.map((channel_id) => ({ channel_id, weight: 1 }));

describe('PoolSelector', () => {
  it('round_robin rotates through equals one step per request', () => {
    const p = new PoolSelector('round_robin');
    const ctx = { random: () => 0 };
    const firsts = Array.from({ length: 6 }, () => p.order(members('c', 'a', 'b'), ctx)[0]);
    expect(firsts).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
    expect(p.order(members('a', 'b', 'c'), ctx)).toEqual(['a', 'b', 'c']);
  });

  it('least_requests puts the channel with the fewest in flight first', () => {
    const p = new PoolSelector('least_requests');
    const load: Record<string, number> = { a: 5, b: 1, c: 3 };
    expect(p.order(members('a', 'b', 'c'), { random: () => 0, inFlight: (id) => load[id]! })).toEqual(['b', 'c', 'a']);
  });

  it('least_requests spreads ties by rotation instead of always hitting the same channel', () => {
    const p = new PoolSelector('least_requests');
    const firsts = new Set(Array.from({ length: 3 }, () => p.order(members('a', 'b', 'c'), { random: () => 0, inFlight: () => 0 })[0]));
    expect(firsts.size).toBe(3);
  });

  it('weighted sends traffic in proportion to weights (seeded, 30k draws)', () => {
    const p = new PoolSelector('weighted');
    const rnd = seededRandom(99);
    const pool: PoolMember[] = [
      { channel_id: 'a', weight: 1 },
      { channel_id: 'b', weight: 3 },
      { channel_id: 'z', weight: 0 },
    ];
    const counts: Record<string, number> = { a: 0, b: 0, z: 0 };
    const n = 30_000;
    for (let i = 0; i < n; i++) counts[p.order(pool, { random: rnd })[0]!]! += 1;
    expect(counts['b']! / n).toBeGreaterThan(0.73);
    expect(counts['b']! / n).toBeLessThan(0.77);
    expect(counts['z']).toBe(0);
    // a zero-weight channel is still a last-resort fallback
    expect(p.order(pool, { random: rnd })[2]).toBe('z');
  });

  it('random is uniform over the first position (seeded)', () => {
    const p = new PoolSelector('random');
    const rnd = seededRandom(5);
    const counts: Record<string, number> = { a: 0, b: 0, c: 0, d: 0 };
    for (let i = 0; i < 20_000; i++) counts[p.order(members('a', 'b', 'c', 'd'), { random: rnd })[0]!]! += 1;
    for (const c of Object.values(counts)) expect(Math.abs(c - 5_000)).toBeLessThan(300);
  });

  it('sticky sends the same key to the same channel every time', () => {
    const p = new PoolSelector('sticky');
    const pool = members('a', 'b', 'c');
    const first = p.order(pool, { random: Math.random, stickyKey: 'key-123' })[0];
    for (let i = 0; i < 20; i++) expect(p.order(pool, { random: Math.random, stickyKey: 'key-123' })[0]).toBe(first);
  });

  it('sticky is consistent: removing a channel moves only the keys it held, adding one moves about 1/(n+1)', () => {
    const p = new PoolSelector('sticky');
    const keys = Array.from({ length: 3000 }, (_, i) => `key-${i}`);
    const pick = (ids: string[], k: string) => p.order(members(...ids), { random: () => 0, stickyKey: k })[0];
    const before = keys.map((k) => pick(['a', 'b', 'c', 'd'], k));
    const removed = keys.map((k) => pick(['a', 'b', 'c'], k));
    keys.forEach((_, i) => {
      if (before[i] !== 'd') expect(removed[i]).toBe(before[i]);
    });
    const added = keys.map((k) => pick(['a', 'b', 'c', 'd', 'e'], k));
    const moved = added.filter((x, i) => x !== before[i]);
    expect(moved.every((x) => x === 'e')).toBe(true);
    expect(moved.length / keys.length).toBeGreaterThan(0.15);
    expect(moved.length / keys.length).toBeLessThan(0.25);
    // and spreads keys evenly
    for (const id of ['a', 'b', 'c', 'd']) expect(before.filter((x) => x === id).length).toBeGreaterThan(600);
  });

  it('sticky without a key falls back to a random order', () => {
    const p = new PoolSelector('sticky');
    const order = p.order(members('a', 'b', 'c'), { random: seededRandom(1) });
    expect([...order].sort()).toEqual(['a', 'b', 'c']);
  });

  it('returns single and empty pools unchanged', () => {
    for (const s of ['round_robin', 'least_requests', 'weighted', 'random', 'sticky'] as const) {
      expect(new PoolSelector(s).order(members('x'), { random: () => 0.5 })).toEqual(['x']);
      expect(new PoolSelector(s).order([], { random: () => 0.5 })).toEqual([]);
    }
  });
});

describe('stableHash', () => {
  it('is stable across calls and releases (pinned values)', () => {
    expect(stableHash('')).toBe(stableHash(''));
    expect(stableHash('key-1\u0000a')).toBe(stableHash('key-1\u0000a'));
    expect(stableHash('a')).not.toBe(stableHash('b'));
    expect(stableHash('hello')).toBe(4625896200565286);
  });
});
