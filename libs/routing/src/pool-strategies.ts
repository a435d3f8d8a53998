/** How to order channels the policy cannot tell apart (equal score, or equal priority). */
export type PoolStrategy = 'round_robin' | 'least_requests' | 'weighted' | 'random' | 'sticky';

export const POOL_STRATEGIES: readonly PoolStrategy[] = ['round_robin', 'least_requests', 'weighted', 'random', 'sticky'];

export interface PoolMember {
  channel_id: string;
  /** Relative share for `weighted` (non-negative; 0 = only when nothing else is left). */
  weight: number;
}

export interface PoolContext {
  random: () => number;
  /** Requests in flight per channel, for `least_requests`. */
  inFlight?: (channelId: string) => number;
  /** The key id (or any stable id) for `sticky`; without one, sticky falls back to `random`. */
  stickyKey?: string;
}

/**
 * Orders a pool of equals. Stateful only for `round_robin` (a cursor per
 * pool membership), so keep one selector per process and reuse it.
 *
 * - round_robin: rotates through the members (sorted by id) one step per call.
 * - least_requests: fewest in flight first; ties by round robin.
 * - weighted: weighted random order without replacement (Efraimidis–Spirakis keys u^(1/w)).
 * - random: uniform shuffle.
 * - sticky: rendezvous (highest-random-weight) hashing of (key, channel): a key
 *   always lands on the same channel; removing a channel moves only the keys
 *   it held, adding one moves about 1/(n+1) of them — prompt caches stay warm.
 */
export class PoolSelector {
  private readonly cursors = new Map<string, number>();

  constructor(readonly strategy: PoolStrategy) {}

  order(members: readonly PoolMember[], ctx: PoolContext): string[] {
    if (members.length <= 1) return members.map((m) => m.channel_id);
    const byId = [...members].sort((a, b) => cmp(a.channel_id, b.channel_id));
    switch (this.strategy) {
      case 'round_robin':
        return this.rotate(byId).map((m) => m.channel_id);
      case 'least_requests': {
        const rotated = this.rotate(byId);
        const load = (id: string): number => {
          const v = ctx.inFlight?.(id) ?? 0;
          return Number.isFinite(v) ? v : 0;
        };
        return rotated
          .map((m, i) => ({ id: m.channel_id, load: load(m.channel_id), i }))
          .sort((a, b) => a.load - b.load || a.i - b.i)
          .map((x) => x.id);
      }
      case 'weighted':
        return byId
          .map((m) => {
            const w = Number.isFinite(m.weight) && m.weight > 0 ? m.weight : 0;
            const u = unit(ctx.random());
            return { id: m.channel_id, key: w > 0 ? Math.log(u) / w : -Infinity };
          })
          .sort((a, b) => b.key - a.key || cmp(a.id, b.id))
          .map((x) => x.id);
      case 'random':
        return shuffle(
          byId.map((m) => m.channel_id),
          ctx.random,
        );
      case 'sticky':
        if (ctx.stickyKey === undefined || ctx.stickyKey === '') return shuffle(byId.map((m) => m.channel_id), ctx.random);
        return byId
          .map((m) => ({ id: m.channel_id, h: stableHash(`${ctx.stickyKey}\u0000${m.channel_id}`) }))
          .sort((a, b) => b.h - a.h || cmp(a.id, b.id))
          .map((x) => x.id);
    }
  }

  private rotate<T extends PoolMember>(sorted: readonly T[]): T[] {
    const sig = sorted.map((m) => m.channel_id).join('\u0000');
    const c = this.cursors.get(sig) ?? 0;
    this.cursors.set(sig, (c + 1) % sorted.length);
    if (this.cursors.size > 10_000) this.cursors.clear();
    return [...sorted.slice(c), ...sorted.slice(0, c)];
  }
}

/**
 * A stable 53-bit string hash (cyrb53): the same on every process and
 * release, well mixed, no crypto dependency. Not for secrets.
 */
export function stableHash(s: string, seed = 0): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

function shuffle<T>(xs: T[], random: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(unit(random()) * (i + 1)) % (i + 1);
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

/** A random() value forced into (0, 1). */
function unit(r: number): number {
  if (!Number.isFinite(r) || r <= 0) return Number.MIN_VALUE;
  return r >= 1 ? 1 - Number.EPSILON : r;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
