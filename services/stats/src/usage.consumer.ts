import { SpanKind, SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api';
import { UsageConsumer, type NatsConnection, type ReceivedUsage } from '@switchyard/bus';
import type { ClickHouseClient } from '@switchyard/clickhouse';
import { STATS_CONSUMER } from '@switchyard/contracts';
import type { Logger } from '@switchyard/telemetry';
import { MIN_BATCH_WAIT_MS } from './stats.config';
import { storeUsageBatch, type StoreResult } from './usage.repository';

export interface UsageStoreConsumerOptions {
  nc: NatsConnection;
  clickhouse: ClickHouseClient;
  logger: Logger;
  batchSize: number;
  batchWaitMs: number;
  /** Durable consumer name; the contract's STATS_CONSUMER unless a test says otherwise. */
  durable?: string;
  tracer?: Tracer;
  now?: () => Date;
}

/**
 * The stats side of the usage stream: pulls batches from the durable
 * consumer, writes each batch into ClickHouse once (see storeUsageBatch) and
 * lets UsageConsumer ack only after the insert returned. A failed insert
 * throws, the batch is nak'ed and comes back later: nothing is lost while
 * ClickHouse is down, nothing is doubled when it returns.
 *
 * Each event gets a `stats.store` span, a child of the producer's trace
 * context from the message headers, ended once the insert finished.
 */
export class UsageStoreConsumer {
  private readonly consumer: UsageConsumer;
  private readonly tracer: Tracer;
  private readonly now: () => Date;
  private started = false;

  constructor(private readonly opts: UsageStoreConsumerOptions) {
    this.tracer = opts.tracer ?? trace.getTracer('switchyard-stats');
    this.now = opts.now ?? (() => new Date());
    this.consumer = new UsageConsumer(opts.nc, {
      durable: opts.durable ?? STATS_CONSUMER,
      batchSize: opts.batchSize,
      // nats.js refuses a pull that expires in under a second: that would fail every fetch.
      maxWaitMs: Math.max(MIN_BATCH_WAIT_MS, opts.batchWaitMs),
      handle: async (batch) => void (await this.handle(batch)),
      onError: (err) => opts.logger.warn({ err }, 'usage consumer error; unacknowledged events will be redelivered'),
      onDeadLetter: (requestId, reason) =>
        opts.logger.warn({ request_id: requestId, reason }, 'invalid usage event sent to the dead-letter stream'),
    });
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.consumer.start();
  }

  /** Stops fetching; the batch in hand is stored and acked (or nak'ed) first. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.consumer.stop();
  }

  /** Stores one batch; exposed for tests that drive the write path without the bus. */
  async handle(batch: ReceivedUsage[]): Promise<StoreResult> {
    const spans: Span[] = batch.map((r) =>
      this.tracer.startSpan(
        'stats.store',
        {
          kind: SpanKind.CONSUMER,
          attributes: {
            'switchyard.request_id': r.event.request_id,
            'switchyard.account_id': r.event.account_id,
            'messaging.delivery_count': r.deliveries,
          },
        },
        r.traceContext,
      ),
    );
    try {
      const result = await storeUsageBatch(
        this.opts.clickhouse,
        batch.map((r) => r.event),
        this.now(),
      );
      // The first event of each inserted id was stored; every other one was a duplicate.
      const inserted = new Set(result.inserted);
      for (let i = 0; i < batch.length; i++) {
        const id = batch[i]!.event.request_id;
        spans[i]!.setAttribute('switchyard.stats.duplicate', !inserted.delete(id));
      }
      this.opts.logger.debug(
        { received: batch.length, inserted: result.inserted.length, duplicates: result.duplicates.length },
        'usage batch stored',
      );
      return result;
    } catch (e) {
      for (const s of spans) {
        s.recordException(e as Error);
        s.setStatus({ code: SpanStatusCode.ERROR, message: (e as Error).message });
      }
      throw e;
    } finally {
      for (const s of spans) s.end();
    }
  }
}
