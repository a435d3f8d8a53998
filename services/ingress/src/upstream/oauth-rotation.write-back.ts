import { refreshTokenSha256, type OAuthRotatedReply, type OAuthRotatedRequest } from '@switchyard/contracts';
import type { UnsavedRotation } from './oauth-token.source';

/** Asks billing to store a rotated refresh token; rejects when billing cannot be reached. */
export type RotationSend = (req: OAuthRotatedRequest) => Promise<OAuthRotatedReply['outcome']>;

/** Where a rotation waits to be stored: the channel's token source. */
export interface RotationHolder {
  unsaved(): UnsavedRotation | null;
  saved(rotation: UnsavedRotation): void;
}

export interface RotationWriteBackLog {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
}

export interface RotationWriteBackOptions {
  send: RotationSend;
  /** The waits between failed attempts; their number bounds the retries (default ~1.5 min in all). */
  retryDelaysMs?: readonly number[];
  sleep?: (ms: number) => Promise<void>;
  log?: RotationWriteBackLog;
  /** Billing holds another refresh token than the one refreshed from: fetch its grant again. */
  onStale?: (channelId: string) => void;
}

export const DEFAULT_ROTATION_RETRY_DELAYS_MS: readonly number[] = [500, 1_000, 2_000, 4_000, 8_000, 15_000, 30_000, 30_000];

const sleepUnref = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/**
 * Hands refresh tokens that a token endpoint rotated to billing, in the
 * background: one loop per channel, which stores the latest rotation
 * (compare-and-set over the token billing holds) and retries while billing
 * cannot be reached, a bounded number of times. Meanwhile the token source
 * keeps using its in-memory token. Logs carry the channel, never a token.
 */
export class RotationWriteBack {
  private readonly running = new Map<string, Promise<void>>();
  private readonly delays: readonly number[];
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly opts: RotationWriteBackOptions) {
    this.delays = opts.retryDelaysMs ?? DEFAULT_ROTATION_RETRY_DELAYS_MS;
    this.sleep = opts.sleep ?? sleepUnref;
  }

  /** Starts storing the holder's rotation unless a loop for the channel runs (it picks up the latest). */
  push(channelId: string, holder: RotationHolder): void {
    if (this.running.has(channelId)) return;
    const p = this.run(channelId, holder).finally(() => this.running.delete(channelId));
    this.running.set(channelId, p);
  }

  /** Resolves when no write is running. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running.values()]);
  }

  private async run(channelId: string, holder: RotationHolder): Promise<void> {
    let failures = 0;
    for (;;) {
      const rotation = holder.unsaved();
      if (!rotation) return;
      let outcome: OAuthRotatedReply['outcome'];
      try {
        outcome = await this.opts.send({ channel_id: channelId, expected_refresh_token_sha256: refreshTokenSha256(rotation.from), refresh_token: rotation.to });
      } catch (e) {
        if (failures >= this.delays.length) {
          // The error names the NATS failure (timeout, no responders), never the request.
          this.opts.log?.warn(
            { channel_id: channelId, attempts: failures + 1, err: (e as Error).name },
            'gave up handing the rotated OAuth refresh token to billing; this ingress keeps it in memory only (tried again at the next rotation or credential fetch)',
          );
          return;
        }
        await this.sleep(this.delays[failures++]!);
        continue;
      }
      if (outcome === 'stored') {
        holder.saved(rotation);
        failures = 0;
        this.opts.log?.info({ channel_id: channelId }, 'rotated OAuth refresh token stored in billing');
        continue;
      }
      this.opts.log?.warn({ channel_id: channelId, outcome }, 'billing did not store the rotated OAuth refresh token');
      if (outcome === 'stale') this.opts.onStale?.(channelId);
      return;
    }
  }
}
