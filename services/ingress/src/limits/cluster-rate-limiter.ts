import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';

export const RATE_LIMIT_BUCKET = 'switchyard_ratelimits';
const WINDOW_MS = 60_000;

export type LimitDimension = 'requests' | 'tokens';

export interface KeyLimits {
  key_id: string;
  rpm?: number | null;
  tpm?: number | null;
}

export interface LimitState {
  dimension: LimitDimension;
  limit: number;
  /** Best local estimate of what is left in this window, cluster-wide. */
  remaining: number;
  /** Milliseconds until the window resets. */
  resetMs: number;
}

export interface Admission {
  allowed: boolean;
  /** The binding limit when refused; each configured limit otherwise. */
  states: LimitState[];
}

interface Allowance {
  window: number;
  /** Allowance granted to this replica and not used yet (may go negative for tokens). */
  left: number;
  /** The cluster-wide count last seen in the store. */
  clusterUsed: number;
}

/**
 * Per-key requests- and tokens-per-minute limits counted across every
 * ingress replica, without a round trip per request: each replica takes
 * slices of a key's per-minute allowance from a NATS KV counter with
 * compare-and-set, and spends them locally. Slices can never add up to more
 * than the limit, so the cluster never admits more than the limit in a window
 * (a replica may hold back a few units another could have used — the safe
 * side). Tokens are known only after the answer: a request needs some token
 * allowance left to start, and its real total is charged when it ends.
 */
export class ClusterRateLimiter {
  private readonly allowances = new Map<string, Allowance>();
  private readonly acquiring = new Map<string, Promise<number>>();
  private readonly waiting = new Map<string, number>();

  constructor(
    private readonly kv: KV,
    private readonly now: () => number = Date.now,
  ) {}

  static async open(nc: NatsConnection, now?: () => number): Promise<ClusterRateLimiter> {
    // Windows older than two minutes are of no use: the bucket forgets them.
    const kv = await new Kvm(nc).create(RATE_LIMIT_BUCKET, { history: 1, ttl: 2 * WINDOW_MS });
    return new ClusterRateLimiter(kv, now);
  }

  /** Admits one request or says which limit refused it. No await unless a slice must be taken. */
  async admit(key: KeyLimits): Promise<Admission> {
    const states: LimitState[] = [];
    if (key.rpm) {
      const s = await this.take(key.key_id, 'requests', key.rpm, 1);
      if (!s.ok) return { allowed: false, states: [s.state] };
      states.push(s.state);
    }
    if (key.tpm) {
      const s = await this.take(key.key_id, 'tokens', key.tpm, 0);
      if (!s.ok) return { allowed: false, states: [s.state] };
      states.push(s.state);
    }
    return { allowed: true, states };
  }

  /** Charges a finished request's real token count. */
  chargeTokens(key: KeyLimits, tokens: number): void {
    if (!key.tpm || tokens <= 0) return;
    const a = this.allowance(key.key_id, 'tokens');
    a.left -= tokens;
    if (a.left < 0) void this.acquire(key.key_id, 'tokens', key.tpm, -a.left).catch(() => undefined);
  }

  private async take(keyId: string, dim: LimitDimension, limit: number, units: number): Promise<{ ok: boolean; state: LimitState }> {
    const id = `${dim}:${keyId}`;
    const need = Math.max(units, 1);
    let a = this.allowance(keyId, dim);
    if (a.left < need) {
      // Waiters for the same key are counted so one store round trip takes enough for all of them.
      this.waiting.set(id, (this.waiting.get(id) ?? 0) + need);
      try {
        for (let round = 0; round < 8 && a.left < need; round++) {
          const granted = await this.acquire(keyId, dim, limit, need - Math.min(a.left, 0));
          a = this.allowance(keyId, dim);
          if (granted === 0) break;
        }
      } finally {
        this.waiting.set(id, (this.waiting.get(id) ?? need) - need);
      }
    }
    const state = (): LimitState => ({
      dimension: dim,
      limit,
      remaining: Math.max(0, limit - a.clusterUsed + Math.max(0, a.left)),
      resetMs: (a.window + 1) * WINDOW_MS - this.now(),
    });
    if (a.left < need) return { ok: false, state: state() };
    a.left -= units;
    return { ok: true, state: state() };
  }

  private allowance(keyId: string, dim: LimitDimension): Allowance {
    const id = `${dim}:${keyId}`;
    const window = Math.floor(this.now() / WINDOW_MS);
    let a = this.allowances.get(id);
    if (!a || a.window !== window) {
      a = { window, left: 0, clusterUsed: 0 };
      this.allowances.set(id, a);
    }
    return a;
  }

  /** Takes a slice from the cluster counter; concurrent callers for one key share one attempt. */
  private acquire(keyId: string, dim: LimitDimension, limit: number, atLeast: number): Promise<number> {
    const id = `${dim}:${keyId}`;
    let p = this.acquiring.get(id);
    if (!p) {
      p = this.casSlice(keyId, dim, limit, atLeast).finally(() => this.acquiring.delete(id));
      this.acquiring.set(id, p);
    }
    return p;
  }

  /** Returns the units granted (0: the window's limit is used up). */
  private async casSlice(keyId: string, dim: LimitDimension, limit: number, atLeast: number): Promise<number> {
    const a = this.allowance(keyId, dim);
    // Slices of a twentieth of the limit (or what the waiters need): few store
    // round trips, little held back from other replicas.
    const want = Math.max(atLeast, Math.ceil(limit / 20), this.waiting.get(`${dim}:${keyId}`) ?? 0);
    const kvKey = `${dim === 'requests' ? 'r' : 't'}.${sanitize(keyId)}.${a.window}`;
    for (let tries = 0; tries < 8; tries++) {
      const entry = await this.kv.get(kvKey);
      const used = entry && entry.value.length > 0 ? Number(entry.string()) : 0;
      const grant = Math.min(want, limit - used);
      a.clusterUsed = used;
      if (grant <= 0) return 0;
      try {
        if (entry) await this.kv.update(kvKey, String(used + grant), entry.revision);
        else await this.kv.create(kvKey, String(grant));
      } catch {
        continue; // another replica moved the counter first: read again
      }
      a.clusterUsed = used + grant;
      a.left += grant;
      return grant;
    }
    return 0;
  }
}

function sanitize(id: string): string {
  return id.replace(/[^A-Za-z0-9_-]/g, '_');
}
