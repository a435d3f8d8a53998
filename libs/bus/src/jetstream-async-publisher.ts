import { createInbox, headers as natsHeaders, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';

interface PendingAck {
  resolve: (duplicate: boolean) => void;
  reject: (err: Error) => void;
  sentAt: number;
}

/**
 * JetStream publish with acks collected on one wildcard inbox, the way the
 * Go client's PublishAsync works: a plain core publish with a reply subject
 * per message, no request object, subscription or captured stack trace per
 * event. The server's PubAck (or its error) settles the promise; a sweep
 * fails acks that never came, and the caller retries them (the message id
 * makes a retry harmless).
 */
export class JetStreamAsyncPublisher {
  private readonly prefix: string;
  private readonly sub: Subscription;
  private readonly pending = new Map<string, PendingAck>();
  private readonly sweep: NodeJS.Timeout;
  private seq = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs = 5_000,
  ) {
    this.prefix = `${createInbox()}.`;
    this.sub = nc.subscribe(`${this.prefix}*`, {
      callback: (err, msg) => {
        if (err) return;
        const token = msg.subject.slice(this.prefix.length);
        const p = this.pending.get(token);
        if (!p) return;
        this.pending.delete(token);
        let ack: { error?: { description?: string; code?: number }; duplicate?: boolean; stream?: string };
        try {
          ack = msg.json();
        } catch {
          p.reject(new Error('malformed JetStream ack'));
          return;
        }
        if (ack.error || !ack.stream) p.reject(new Error(`JetStream rejected the publish: ${ack.error?.description ?? 'no stream'}`));
        else p.resolve(ack.duplicate === true);
      },
    });
    this.sweep = setInterval(() => this.expire(), Math.min(1000, timeoutMs));
    this.sweep.unref();
  }

  /** Resolves with `true` when the server saw the message id before (a deduplicated retry). */
  publish(subject: string, data: Uint8Array, msgId: string, extraHeaders?: Record<string, string>): Promise<boolean> {
    const h: MsgHdrs = natsHeaders();
    h.set('Nats-Msg-Id', msgId);
    if (extraHeaders) for (const k in extraHeaders) h.set(k, extraHeaders[k]!);
    const token = (++this.seq).toString(36);
    return new Promise<boolean>((resolve, reject) => {
      this.pending.set(token, { resolve, reject, sentAt: Date.now() });
      try {
        this.nc.publish(subject, data, { reply: this.prefix + token, headers: h });
      } catch (e) {
        this.pending.delete(token);
        reject(e as Error);
      }
    });
  }

  get inFlight(): number {
    return this.pending.size;
  }

  close(): void {
    clearInterval(this.sweep);
    this.sub.unsubscribe();
    for (const p of this.pending.values()) p.reject(new Error('publisher closed'));
    this.pending.clear();
  }

  private expire(): void {
    const deadline = Date.now() - this.timeoutMs;
    for (const [token, p] of this.pending) {
      if (p.sentAt > deadline) break; // insertion order = send order
      this.pending.delete(token);
      p.reject(new Error('no JetStream ack in time'));
    }
  }
}
