import type { NatsConnection } from '@nats-io/transport-node';
import { CHANNEL_CREDENTIAL_SUBJECT, channelCredentialReplySchema } from '@switchyard/contracts';
import { GatewayError } from '../errors/gateway-error';

/**
 * Upstream credentials per channel, fetched from billing over request-reply
 * on first use and kept in memory only (never in plans, events or logs).
 * Cleared when a new plan arrives so a rotated credential is picked up.
 */
export class CredentialCache {
  private readonly keys = new Map<string, string | null>();
  private readonly inflight = new Map<string, Promise<string | null>>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs: number,
  ) {}

  /** Keeps the old values as a fallback until each is refetched. */
  invalidate(): void {
    this.stale = new Map(this.keys);
    this.keys.clear();
  }

  private stale = new Map<string, string | null>();

  get(channelId: string): string | null | Promise<string | null> {
    const v = this.keys.get(channelId);
    if (v !== undefined) return v;
    let p = this.inflight.get(channelId);
    if (!p) {
      p = this.fetch(channelId).finally(() => this.inflight.delete(channelId));
      this.inflight.set(channelId, p);
    }
    return p;
  }

  private async fetch(channelId: string): Promise<string | null> {
    try {
      const msg = await this.nc.request(CHANNEL_CREDENTIAL_SUBJECT, JSON.stringify({ channel_id: channelId }), { timeout: this.timeoutMs });
      const reply = channelCredentialReplySchema.parse(msg.json());
      const key = reply.found ? reply.api_key : null;
      this.keys.set(channelId, key);
      return key;
    } catch (e) {
      const old = this.stale.get(channelId);
      if (old !== undefined) return old;
      throw new GatewayError('dependency_unavailable', {
        message: 'Channel credentials are unavailable; try again shortly.',
        code: 'credential_service_unavailable',
        channelId,
        retryable: true,
        cause: e,
      });
    }
  }
}
