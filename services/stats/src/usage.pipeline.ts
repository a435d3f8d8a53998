import { headers, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, type JsMsg } from '@nats-io/jetstream';
import type { ReceivedUsage } from '@switchyard/bus';
import { DLQ_REASON_HEADER, USAGE_DLQ_SUBJECT, USAGE_STREAM, decodeUsageEventV1 } from '@switchyard/contracts';
import { extractTraceContext } from '@switchyard/telemetry';

export type Prepared<P> = { ok: true; value: P } | { ok: false; error: Error };

export interface PipelinedConsumerOptions<P> {
  durable: string;
  batchSize: number;
  /** Longest wait to fill a batch (the JetStream client's floor is 1000 ms). */
  maxWaitMs: number;
  /** First half of a write (e.g. the duplicate check); may run while the previous batch is being committed. */
  prepare: (batch: ReceivedUsage[]) => Promise<P>;
  /**
   * Second half: writes the batch, after the previous batch's commit
   * finished; must have committed before resolving. A throw naks the batch
   * for redelivery.
   */
  commit: (batch: ReceivedUsage[], prepared: Prepared<P>) => Promise<void>;
  onError?: (err: Error) => void;
  onDeadLetter?: (requestId: string | undefined, reason: string) => void;
}

/**
 * Pull consumer of the usage stream built for throughput, same guarantees as
 * the bus's UsageConsumer (ack only after the write committed, nak on a
 * failed write, invalid events to the dead-letter stream with the reason):
 *
 * - pipelined: while batch k is committed (inserted), batch k+1 is fetched,
 *   decoded and prepared (its duplicate check runs); commits stay one at a
 *   time and in stream order, so ClickHouse sees one insert per batch, and
 *   batch k+2 is fetched only after k committed — a slow ClickHouse slows
 *   the fetching down (backpressure, at most three batches in hand) instead
 *   of piling batches up in memory;
 * - acks are sent without waiting for one reply each, then one flush
 *   (PING/PONG) confirms the server has processed them all — one round trip
 *   per batch instead of one per message.
 */
export class PipelinedUsageConsumer<P> {
  private running = false;
  private stopped: Promise<void> | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly opts: PipelinedConsumerOptions<P>,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopped = this.loop();
  }

  /** Stops fetching; the batches in hand are written and acked (or nak'ed) first. */
  async stop(): Promise<void> {
    this.running = false;
    await this.stopped;
  }

  private async loop(): Promise<void> {
    const js = jetstream(this.nc);
    let writing: Promise<void> = Promise.resolve();
    while (this.running) {
      try {
        const consumer = await js.consumers.get(USAGE_STREAM, this.opts.durable);
        while (this.running) {
          const msgs = await consumer.fetch({ max_messages: this.opts.batchSize, expires: Math.max(1000, this.opts.maxWaitMs) });
          const batch: JsMsg[] = [];
          for await (const m of msgs) batch.push(m);
          if (batch.length === 0) continue;
          const decoded = await this.decode(batch);
          if (decoded.good.length === 0) continue;
          const prepared: Promise<Prepared<P>> = this.opts.prepare(decoded.good).then(
            (value) => ({ ok: true, value }),
            (error: Error) => ({ ok: false, error }),
          );
          const previous = writing;
          writing = previous.then(() => this.write(decoded, prepared));
          // Fetch the next batch once the previous commit is done: at most one
          // batch committing and one being prepared.
          await previous;
        }
      } catch (e) {
        if (!this.running) break;
        this.opts.onError?.(e as Error);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    await writing;
  }

  private async decode(msgs: JsMsg[]): Promise<{ good: ReceivedUsage[]; goodMsgs: JsMsg[] }> {
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
    return { good, goodMsgs };
  }

  private async write({ good, goodMsgs }: { good: ReceivedUsage[]; goodMsgs: JsMsg[] }, prepared: Promise<Prepared<P>>): Promise<void> {
    try {
      await this.opts.commit(good, await prepared);
    } catch (e) {
      this.opts.onError?.(e as Error);
      for (const m of goodMsgs) m.nak(2_000);
      return;
    }
    for (const m of goodMsgs) m.ack();
    // The server handles a connection's messages in order: the PONG means every ack above was processed.
    await this.nc.flush().catch((e: Error) => this.opts.onError?.(e));
  }

  private async deadLetter(m: JsMsg, reason: string): Promise<void> {
    const js = jetstream(this.nc);
    const h = headers();
    h.set(DLQ_REASON_HEADER, reason.slice(0, 1000));
    const id = m.headers?.get('Nats-Msg-Id') || undefined;
    try {
      await js.publish(USAGE_DLQ_SUBJECT, m.data, { headers: h, msgID: id ? `dlq-${id}` : undefined });
      this.opts.onDeadLetter?.(id, reason);
      // No reason argument: nats-server before 2.10.4 ignores `+TERM <reason>`.
      m.term();
    } catch (e) {
      this.opts.onError?.(e as Error);
      m.nak(5_000);
    }
  }
}
