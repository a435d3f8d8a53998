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
  /**
   * Delivery count: >1 means a redelivery. For telemetry only: nats-server
   * 2.9 can give a redelivery the count 1 (nats-server#5305).
   */
  deliveries: number;
}

/** What `prepare` gave for a batch: its value, or the error it threw. */
export type Prepared<P> = { ok: true; value: P } | { ok: false; error: Error };

export interface UsageConsumerOptions<P = void> {
  durable: string;
  /** Most events handed to the handler at once, while the consumer keeps up. */
  batchSize: number;
  /**
   * Most events handed over at once while the consumer is behind (default
   * `batchSize`): see {@link nextBatchSize}. A sink whose cost is mostly
   * per write (ClickHouse inserts) catches up with fewer, larger writes,
   * and stays at small batches (low latency) when it keeps up.
   */
  maxBatchSize?: number;
  /** Longest wait to fill a batch (at least 1000 ms: the JetStream client's floor). */
  maxWaitMs: number;
  /**
   * Writes the batch; must commit before resolving. A throw naks the batch
   * for redelivery. In pipelined mode `prepared` is what `prepare` gave for
   * this batch (absent without a `prepare`).
   */
  handle: (batch: ReceivedUsage[], prepared?: Prepared<P>) => Promise<void>;
  /**
   * Pipelined mode, for throughput: while batch k is being written, batch
   * k+1 is fetched, decoded and prepared. Writes stay one at a time and in
   * stream order; batch k+2 is fetched only after k committed, so a slow
   * sink slows the fetching down (at most three batches in hand). Acks are
   * sent without waiting for a reply each, then one flush (PING/PONG)
   * confirms the server processed them all: one round trip per batch.
   */
  pipelined?: boolean;
  /**
   * Pipelined mode only: the first half of a write (e.g. a duplicate check),
   * run while the previous batch is still being written. A throw does not
   * fail the batch: `handle` gets the error and decides.
   */
  prepare?: (batch: ReceivedUsage[]) => Promise<P>;
  onError?: (err: Error) => void;
  onDeadLetter?: (requestId: string | undefined, reason: string) => void;
}

/**
 * The trace context and delivery count are read from the message on first
 * use: parsing headers and reply subjects per event is a real cost at tens
 * of thousands of events a second, and a consumer that makes no spans never
 * needs them.
 */
class Received implements ReceivedUsage {
  private ctx: Context | undefined;
  constructor(
    readonly event: UsageEventV1,
    private readonly msg: JsMsg,
  ) {}
  get traceContext(): Context {
    return (this.ctx ??= extractTraceContext(this.msg.headers));
  }
  get deliveries(): number {
    return this.msg.info.deliveryCount;
  }
}

/**
 * The size of the next fetch. Behind — the fetch came back full and at
 * least as many again were already waiting (the server's pending count on
 * its last message) — twice this one, up to `max`; a backlog under `base`
 * — back to `base`; otherwise unchanged. "Full" alone is not "behind": at a
 * steady rate above `base` a second, every fetch fills, and growing then
 * would only add the time to fill a larger batch to the lag.
 */
function nextBatchSize(size: number, batch: readonly JsMsg[], base: number, max: number): number {
  const waiting = batch.length > 0 ? batch[batch.length - 1]!.info.pending : 0;
  if (batch.length >= size && waiting >= size) return Math.min(max, size * 2);
  return waiting < base ? base : size;
}

/**
 * The messages of one fetch, and the error that ended it, if any. A fetch
 * can fail after it yielded messages — e.g. "heartbeats missed", seen with
 * nats-server 2.9 when a redelivery falls due as the pull request expires
 * (nats-server#5305) — and those messages are ours all the same: dropping
 * them would leave them unacknowledged until the ack wait (a minute) ran out.
 */
export async function collectFetch<M>(msgs: AsyncIterable<M>): Promise<{ batch: M[]; error?: Error }> {
  const batch: M[] = [];
  try {
    for await (const m of msgs) batch.push(m);
  } catch (e) {
    return { batch, error: e as Error };
  }
  return { batch };
}

interface Decoded {
  good: ReceivedUsage[];
  goodMsgs: JsMsg[];
}

/**
 * Pull-consumes the usage stream with a durable consumer and explicit acks.
 * Acks only after `handle` resolved (the write committed); a failed write is
 * nak'ed with a delay and redelivered. Events that fail validation go to the
 * dead-letter stream with the reason and are then acked — never dropped
 * silently, never retried forever. One batch at a time, or pipelined (see
 * {@link UsageConsumerOptions.pipelined}).
 */
export class UsageConsumer<P = void> {
  private running = false;
  private stopped: Promise<void> | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly opts: UsageConsumerOptions<P>,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopped = this.loop();
  }

  /** Stops fetching; the batches in hand are finished and acked (or nak'ed) first. */
  async stop(): Promise<void> {
    this.running = false;
    await this.stopped;
  }

  private async loop(): Promise<void> {
    const js = jetstream(this.nc);
    let writing: Promise<void> = Promise.resolve();
    const maxBatch = Math.max(this.opts.batchSize, this.opts.maxBatchSize ?? 0);
    let size = this.opts.batchSize;
    while (this.running) {
      try {
        const consumer = await js.consumers.get(USAGE_STREAM, this.opts.durable);
        while (this.running) {
          // The JetStream client refuses fetch waits under one second.
          const msgs = await consumer.fetch({ max_messages: size, expires: Math.max(1000, this.opts.maxWaitMs) });
          const { batch, error } = await collectFetch(msgs);
          if (error) {
            if (batch.length === 0) throw error;
            this.opts.onError?.(error);
          }
          size = nextBatchSize(size, batch, this.opts.batchSize, maxBatch);
          if (batch.length === 0) continue;
          const decoded = await this.decode(batch);
          if (decoded.good.length === 0) continue;
          if (!this.opts.pipelined) {
            await this.writeAndAckEach(decoded);
            continue;
          }
          const prepare = this.opts.prepare;
          const prepared: Promise<Prepared<P> | undefined> = prepare
            ? prepare(decoded.good).then(
                (value): Prepared<P> => ({ ok: true, value }),
                (error: Error): Prepared<P> => ({ ok: false, error }),
              )
            : Promise.resolve(undefined);
          const previous = writing;
          writing = previous.then(() => this.writeAndFlushAcks(decoded, prepared));
          // Fetch the next batch once the previous write is done: at most one
          // batch writing and one being prepared.
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

  private async decode(msgs: JsMsg[]): Promise<Decoded> {
    const good: ReceivedUsage[] = [];
    const goodMsgs: JsMsg[] = [];
    for (const m of msgs) {
      const parsed = decodeUsageEventV1(m.data);
      if (!parsed.ok) {
        await this.deadLetter(m, parsed.reason);
        continue;
      }
      good.push(new Received(parsed.value, m));
      goodMsgs.push(m);
    }
    return { good, goodMsgs };
  }

  /** One batch at a time; each ack is confirmed so that "acked" really means the server saw it. */
  private async writeAndAckEach({ good, goodMsgs }: Decoded): Promise<void> {
    try {
      await this.opts.handle(good);
    } catch (e) {
      this.opts.onError?.(e as Error);
      for (const m of goodMsgs) m.nak(2_000);
      return;
    }
    await Promise.all(goodMsgs.map((m) => m.ackAck().catch(() => false)));
  }

  private async writeAndFlushAcks({ good, goodMsgs }: Decoded, prepared: Promise<Prepared<P> | undefined>): Promise<void> {
    try {
      await this.opts.handle(good, await prepared);
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
