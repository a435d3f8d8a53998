import type { NatsConnection } from '@nats-io/transport-node';
import { JetStreamAsyncPublisher } from './jetstream-async-publisher';
import { USAGE_SUBJECT_V1, type UsageEventV1, parseUsageEventV1 } from '@switchyard/contracts';
import { injectTraceHeaders } from '@switchyard/telemetry';
import type { Context } from '@opentelemetry/api';

export interface UsagePublisherOptions {
  /** Most events held while NATS is unreachable; the oldest are kept, new ones counted as dropped. */
  maxSpooled?: number;
  /** Wait between retries of the spool while NATS is down. */
  retryMs?: number;
  /** Publishes awaiting their JetStream ack at once. */
  maxInFlight?: number;
  onError?: (err: Error, pending: number) => void;
}

interface Pending {
  id: string;
  data: Uint8Array;
  traceHeaders: Record<string, string>;
}

/**
 * Publishes one usage event per request to JetStream with Nats-Msg-Id = the
 * request id, so a retried publish is deduplicated by the server. Publishing
 * never blocks the client's response: events go into a bounded spool that a
 * single loop drains in order, retrying while NATS is down.
 */
export class UsagePublisher {
  private readonly js: JetStreamAsyncPublisher;
  private readonly spool: Pending[] = [];
  private draining = false;
  private closed = false;
  private dropped = 0;
  private inFlight = 0;
  private published = 0;
  private readonly maxSpooled: number;
  private readonly retryMs: number;
  private readonly maxInFlight: number;
  private idleWaiters: Array<() => void> = [];

  constructor(
    nc: NatsConnection,
    private readonly opts: UsagePublisherOptions = {},
  ) {
    this.js = new JetStreamAsyncPublisher(nc);
    this.maxSpooled = opts.maxSpooled ?? 100_000;
    this.retryMs = opts.retryMs ?? 500;
    this.maxInFlight = opts.maxInFlight ?? 256;
  }

  /** Validates (a malformed event is a bug in the producer: it throws) and queues. */
  publish(event: UsageEventV1, traceContext?: Context): void {
    const check = parseUsageEventV1(event);
    if (!check.ok) throw new Error(`usage event ${event.request_id} is invalid: ${check.reason}`);
    if (this.spool.length + this.inFlight >= this.maxSpooled) {
      this.dropped++;
      this.opts.onError?.(new Error('usage spool full; event dropped'), this.spool.length);
      return;
    }
    const traceHeaders: Record<string, string> = {};
    injectTraceHeaders(
      {
        get: (k) => traceHeaders[k] ?? '',
        set: (k, v) => void (traceHeaders[k] = v),
        has: (k) => k in traceHeaders,
        keys: () => Object.keys(traceHeaders),
      },
      traceContext,
    );
    this.spool.push({ id: event.request_id, data: Buffer.from(JSON.stringify(event)), traceHeaders });
    if (!this.draining) void this.drain();
  }

  get stats() {
    return { pending: this.spool.length + this.inFlight, published: this.published, dropped: this.dropped };
  }

  private send(p: Pending): Promise<unknown> {
    return this.js.publish(USAGE_SUBJECT_V1, p.data, p.id, p.traceHeaders);
  }

  /** Resolves when everything queued so far has been acknowledged by JetStream. */
  async flush(timeoutMs = 10_000): Promise<boolean> {
    if (this.spool.length === 0 && !this.draining) return true;
    return new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  async close(timeoutMs = 10_000): Promise<void> {
    await this.flush(timeoutMs);
    this.closed = true;
    this.js.close();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.spool.length > 0 && !this.closed) {
        // Publishes go out in windows of concurrent acks: one round trip per
        // window, not per event. Order does not matter for usage; ids dedupe.
        const window = this.spool.splice(0, this.maxInFlight);
        this.inFlight = window.length;
        const results = await Promise.allSettled(window.map((p) => this.send(p)));
        this.inFlight = 0;
        const failed: Pending[] = [];
        let firstError: Error | undefined;
        results.forEach((r, i) => {
          if (r.status === 'fulfilled') this.published++;
          else {
            failed.push(window[i]!);
            firstError ??= r.reason as Error;
          }
        });
        if (failed.length > 0) {
          this.spool.unshift(...failed);
          this.opts.onError?.(firstError!, this.spool.length);
          await new Promise((r) => setTimeout(r, this.retryMs));
        }
      }
    } finally {
      this.draining = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}
