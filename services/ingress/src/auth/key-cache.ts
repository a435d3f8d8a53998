import { createHash } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  KEY_CHANGED_SUBJECT,
  KEY_RESOLVE_SUBJECT,
  keyChangedSchema,
  keyResolveReplySchema,
  type KeySnapshot,
} from '@switchyard/contracts';
import { compileModelAccess } from '@switchyard/routing';
import { GatewayError } from '../errors/gateway-error';

export interface ResolvedKey extends KeySnapshot {
  allowsModel: (model: string) => boolean;
}

interface Entry {
  key: ResolvedKey | null;
  expiresAt: number;
}

export interface KeyCacheOptions {
  ttlMs: number;
  negativeTtlMs: number;
  lookupTimeoutMs: number;
  now?: () => number;
  /** Told of every lookup: true for a cache hit. */
  onLookup?: (hit: boolean) => void;
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/**
 * API keys resolved from billing over NATS request-reply and cached here, so
 * the request path does no round trip on a hit. Only the sha256 of the key is
 * sent and kept. Concurrent misses for one key share one lookup; billing's
 * key-changed broadcast evicts at once (revocation); when billing does not
 * answer, an expired entry is still served rather than failing every request.
 */
export class KeyCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<ResolvedKey | null>>();
  private readonly now: () => number;
  hits = 0;
  misses = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly opts: KeyCacheOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  /** Listens for key changes (revocations) from billing. */
  watchChanges(): void {
    const sub = this.nc.subscribe(KEY_CHANGED_SUBJECT);
    void (async () => {
      for await (const m of sub) {
        const parsed = keyChangedSchema.safeParse(m.json());
        if (parsed.success) this.entries.delete(parsed.data.key_hash);
        else this.entries.clear();
      }
    })();
  }

  /** The key's snapshot, or null when billing does not know it. */
  async resolve(presentedKey: string): Promise<ResolvedKey | null> {
    const hash = hashApiKey(presentedKey);
    const entry = this.entries.get(hash);
    if (entry && entry.expiresAt > this.now()) {
      this.hits++;
      this.opts.onLookup?.(true);
      return entry.key;
    }
    this.misses++;
    this.opts.onLookup?.(false);
    let pending = this.inflight.get(hash);
    if (!pending) {
      pending = this.lookup(hash, entry).finally(() => this.inflight.delete(hash));
      this.inflight.set(hash, pending);
    }
    return pending;
  }

  private async lookup(hash: string, stale: Entry | undefined): Promise<ResolvedKey | null> {
    let reply;
    try {
      const msg = await this.nc.request(KEY_RESOLVE_SUBJECT, JSON.stringify({ key_hash: hash }), { timeout: this.opts.lookupTimeoutMs });
      reply = keyResolveReplySchema.parse(msg.json());
    } catch (e) {
      if (stale) return stale.key;
      throw new GatewayError('dependency_unavailable', {
        message: 'The key service is unavailable; try again shortly.',
        code: 'key_service_unavailable',
        retryable: true,
        cause: e,
      });
    }
    let key: ResolvedKey | null = null;
    if (reply.found) {
      // Model access is the key's globs intersected with its group's.
      const own = compileModelAccess(reply.key.models);
      const group = compileModelAccess(reply.key.group_models ?? ['*']);
      key = { ...reply.key, allowsModel: (m) => own(m) && group(m) };
    }
    this.entries.set(hash, { key, expiresAt: this.now() + (key ? this.opts.ttlMs : this.opts.negativeTtlMs) });
    return key;
  }
}
