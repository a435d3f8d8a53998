import { headers, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { Logger } from '@switchyard/telemetry';

/** Queue group shared by every billing replica: each request is answered once. */
export const BILLING_QUEUE = 'billing';

export interface ResponderSpec {
  subject: string;
  /**
   * Answers one request. Returns the reply object, already checked against the
   * contract schema. A throw becomes a service-error reply (no body, with
   * `Nats-Service-Error` headers), so the requester fails fast instead of
   * timing out — and never mistakes a database outage for "not found".
   */
  handle: (data: Uint8Array) => Promise<unknown>;
}

/**
 * A request-reply responder on a queue group. Each request runs concurrently;
 * `stop()` unsubscribes and waits for the requests in flight, so the
 * database is not closed under them.
 */
export class Responder {
  private sub: Subscription | undefined;
  private readonly inflight = new Set<Promise<void>>();
  private served = 0;
  private failed = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly spec: ResponderSpec,
    private readonly log: Logger,
  ) {}

  start(): void {
    if (this.sub) return;
    this.sub = this.nc.subscribe(this.spec.subject, {
      queue: BILLING_QUEUE,
      callback: (err, msg) => {
        if (err) {
          this.log.error({ subject: this.spec.subject, err: err.message }, 'responder subscription error');
          return;
        }
        const p = this.answer(msg).finally(() => this.inflight.delete(p));
        this.inflight.add(p);
      },
    });
  }

  async stop(): Promise<void> {
    const sub = this.sub;
    this.sub = undefined;
    if (sub && !sub.isClosed()) {
      await sub.drain().catch(() => undefined);
    }
    await Promise.allSettled([...this.inflight]);
  }

  get stats() {
    return { served: this.served, failed: this.failed };
  }

  private async answer(msg: Msg): Promise<void> {
    if (!msg.reply) return;
    try {
      const reply = await this.spec.handle(msg.data);
      msg.respond(JSON.stringify(reply));
      this.served++;
    } catch (e) {
      this.failed++;
      this.log.error({ subject: this.spec.subject, err: (e as Error).message }, 'request failed');
      const h = headers();
      h.set('Nats-Service-Error', 'internal error');
      h.set('Nats-Service-Error-Code', '500');
      msg.respond(new Uint8Array(0), { headers: h });
    }
  }
}

/** Parses a JSON request body; undefined when it is not JSON. */
export function decodeJson(data: Uint8Array): unknown {
  if (data.length === 0) return {};
  try {
    return JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
  } catch {
    return undefined;
  }
}
