import { headers, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, type JsMsg } from '@nats-io/jetstream';
import {
  DLQ_REASON_HEADER,
  USAGE_DLQ_SUBJECT,
  USAGE_STREAM,
  decodeUsageEventV1,
  type UsageEventV1,
} from '@switchyard/contracts';
import { extractTraceContext } from '@switchyard/telemetry';
import type { Context } from '@opentelemetry/api';

export interface ReceivedUsage {
  event: UsageEventV1;
  /** The producer's trace context, from the message headers. */
  traceContext: Context;
  /** Delivery count: >1 means a redelivery. */
  deliveries: number;
}

export interface UsageConsumerOptions {
  durable: string;
  /** Most events handed to the handler at once. */
  batchSize: number;
  /** Longest wait to fill a batch (at least 1000 ms: the JetStream client's floor). */
  maxWaitMs: number;
  /** Writes the batch; must commit before resolving. A throw naks the batch for redelivery. */
  handle: (batch: ReceivedUsage[]) => Promise<void>;
  onError?: (err: Error) => void;
  onDeadLetter?: (requestId: string | undefined, reason: string) => void;
}

/**
 * Pull-consumes the usage stream with a durable consumer and explicit acks.
 * Acks only after `handle` resolved (the write committed); a failed write is
 * nak'ed with a delay and redelivered. Events that fail validation go to the
 * dead-letter stream with the reason and are then acked — never dropped
 * silently, never retried forever.
 */
export class UsageConsumer {
  private running = false;
  private stopped: Promise<void> | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly opts: UsageConsumerOptions,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopped = this.loop();
  }

  /** Stops fetching; the batch in hand is finished and acked first. */
  async stop(): Promise<void> {
    this.running = false;
    await this.stopped;
  }

  private async loop(): Promise<void> {
    const js = jetstream(this.nc);
    while (this.running) {
      try {
        const consumer = await js.consumers.get(USAGE_STREAM, this.opts.durable);
        while (this.running) {
          // The JetStream client refuses fetch waits under one second.
          const msgs = await consumer.fetch({ max_messages: this.opts.batchSize, expires: Math.max(1000, this.opts.maxWaitMs) });
          const batch: JsMsg[] = [];
          for await (const m of msgs) batch.push(m);
          if (batch.length > 0) await this.process(batch);
        }
      } catch (e) {
        if (!this.running) break;
        this.opts.onError?.(e as Error);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private async process(msgs: JsMsg[]): Promise<void> {
    const good: ReceivedUsage[] = [];
    const goodMsgs: JsMsg[] = [];
    for (const m of msgs) {
      const parsed = decodeUsageEventV1(m.data);
      if (!parsed.ok) {
        await this.deadLetter(m, parsed.reason);
        continue;
      }
      good.push({ event: parsed.value, traceContext: extractTraceContext(m.headers), deliveries: m.info.deliveryCount });
      goodMsgs.push(m);
    }
    if (good.length === 0) return;
    try {
      await this.opts.handle(good);
    } catch (e) {
      this.opts.onError?.(e as Error);
      for (const m of goodMsgs) m.nak(2_000);
      return;
    }
    // Acks are confirmed so that "acked" really means the server saw it.
    await Promise.all(goodMsgs.map((m) => m.ackAck().catch(() => false)));
  }

  private async deadLetter(m: JsMsg, reason: string): Promise<void> {
    const js = jetstream(this.nc);
    const h = headers();
    h.set(DLQ_REASON_HEADER, reason.slice(0, 1000));
    const id = m.headers?.get('Nats-Msg-Id') || undefined;
    try {
      await js.publish(USAGE_DLQ_SUBJECT, m.data, { headers: h, msgID: id ? `dlq-${id}` : undefined });
      this.opts.onDeadLetter?.(id, reason);
      // No reason argument: nats-server before 2.10.4 ignores `+TERM <reason>` and
      // would redeliver forever. The reason travels in the DLQ header instead.
      m.term();
    } catch (e) {
      // Dead-letter stream unreachable: leave the message for redelivery.
      this.opts.onError?.(e as Error);
      m.nak(5_000);
    }
  }
}
