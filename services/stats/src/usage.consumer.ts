import { SpanKind, SpanStatusCode, context, trace, type Span, type Tracer } from '@opentelemetry/api';
import { UsageConsumer, type NatsConnection, type Prepared, type ReceivedUsage } from '@switchyard/bus';
import type { ClickHouseClient } from '@switchyard/clickhouse';
import { STATS_CONSUMER } from '@switchyard/contracts';
import type { IngestMetrics } from '@switchyard/metrics';
import { spansExported, type Logger } from '@switchyard/telemetry';
import { MIN_BATCH_WAIT_MS } from './stats.config';
import { excludeInserted, insertPlannedBatch, planUsageBatch, type PlannedBatch, type StoreResult } from './usage.repository';

export interface UsageStoreConsumerOptions {
  nc: NatsConnection;
  clickhouse: ClickHouseClient;
  logger: Logger;
  batchSize: number;
  /** Largest batch while the consumer is behind (default batchSize; see UsageConsumerOptions.maxBatchSize). */
  maxBatchSize?: number;
  batchWaitMs: number;
  /** Durable consumer name; the contract's STATS_CONSUMER unless a test says otherwise. */
  durable?: string;
  tracer?: Tracer;
  now?: () => Date;
  /** Batch size, insert latency, rows, duplicates, dead letters and failures (sink `clickhouse`). */
  metrics?: IngestMetrics;
}

const SINK = { sink: 'clickhouse' } as const;
/** Links from a batch span to its events' spans, at most (the first event is its parent). */
const MAX_BATCH_LINKS = 128;
const NOT_PREPARED: Prepared<PlannedBatch> = { ok: false, error: new Error('not prepared') };

/**
 * The stats side of the usage stream: pulls batches from the durable
 * consumer, writes each batch into ClickHouse once (see storeUsageBatch) and
 * acks only after the insert returned (the bus UsageConsumer in pipelined
 * mode: the next batch is fetched, decoded and checked for duplicates while
 * one is written). A failed insert
 * throws, the batch is nak'ed and comes back later: nothing is lost while
 * ClickHouse is down, nothing is doubled when it returns.
 *
 * While spans are exported, each event gets a `stats.store` span, a child
 * of the producer's trace context from the message headers, ended once the
 * insert finished; the batch's write runs in a `stats.store_batch` span
 * (child of the first event's span, linked to the others') that holds the
 * ClickHouse spans. Without an exporter none of them is made.
 */
export class UsageStoreConsumer {
  private readonly consumer: UsageConsumer<PlannedBatch>;
  /** Request ids written by the last commit, and whether it failed: what a plan made beside it cannot know. */
  private lastInserted: ReadonlySet<string> = new Set();
  private lastFailed = false;
  private readonly tracer: Tracer;
  private readonly now: () => Date;
  private started = false;

  constructor(private readonly opts: UsageStoreConsumerOptions) {
    this.tracer = opts.tracer ?? trace.getTracer('switchyard-stats');
    this.now = opts.now ?? (() => new Date());
    this.consumer = new UsageConsumer<PlannedBatch>(opts.nc, {
      durable: opts.durable ?? STATS_CONSUMER,
      pipelined: true,
      batchSize: opts.batchSize,
      maxBatchSize: opts.maxBatchSize,
      // nats.js refuses a pull that expires in under a second: that would fail every fetch.
      maxWaitMs: Math.max(MIN_BATCH_WAIT_MS, opts.batchWaitMs),
      prepare: (batch) => planUsageBatch(this.opts.clickhouse, batch.map((r) => r.event), this.now()),
      handle: async (batch, prepared) => void (await this.commit(batch, prepared ?? NOT_PREPARED)),
      onError: (err) => opts.logger.warn({ err }, 'usage consumer error; unacknowledged events will be redelivered'),
      onDeadLetter: (requestId, reason) => {
        opts.metrics?.deadLetters.inc(SINK);
        opts.logger.warn({ request_id: requestId, reason }, 'invalid usage event sent to the dead-letter stream');
      },
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
    return this.commit(batch, NOT_PREPARED);
  }

  /**
   * Writes a batch whose plan (duplicate check) may have been made while the
   * previous batch was being written: the ids that batch wrote are removed
   * from it. When the plan failed, or the previous write failed (it may
   * still have landed), the plan is made again now.
   */
  private async commit(batch: ReceivedUsage[], prepared: Prepared<PlannedBatch>): Promise<StoreResult> {
    if (!spansExported()) return this.write(batch, prepared, []);
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
    const batchSpan = this.tracer.startSpan(
      'stats.store_batch',
      {
        attributes: { 'messaging.batch.message_count': batch.length },
        links: spans.slice(1, MAX_BATCH_LINKS + 1).map((s) => ({ context: s.spanContext() })),
      },
      trace.setSpan(context.active(), spans[0]!),
    );
    try {
      return await context.with(trace.setSpan(context.active(), batchSpan), () => this.write(batch, prepared, spans));
    } catch (e) {
      batchSpan.setStatus({ code: SpanStatusCode.ERROR, message: (e as Error).message });
      throw e;
    } finally {
      batchSpan.end();
      for (const s of spans) s.end();
    }
  }

  private async write(batch: ReceivedUsage[], prepared: Prepared<PlannedBatch>, spans: Span[]): Promise<StoreResult> {
    const m = this.opts.metrics;
    m?.batchSize.observe(SINK, batch.length);
    const t0 = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - t0) / 1e9;
    try {
      const plan =
        prepared.ok && !this.lastFailed
          ? excludeInserted(prepared.value, this.lastInserted)
          : await planUsageBatch(this.opts.clickhouse, batch.map((r) => r.event), this.now());
      const result = await insertPlannedBatch(this.opts.clickhouse, plan);
      this.lastInserted = new Set(result.inserted);
      this.lastFailed = false;
      // The first event of each inserted id was stored; every other one was a duplicate.
      const inserted = new Set(spans.length > 0 ? result.inserted : []);
      for (let i = 0; i < spans.length; i++) {
        const id = batch[i]!.event.request_id;
        spans[i]!.setAttribute('switchyard.stats.duplicate', !inserted.delete(id));
      }
      if (m) {
        m.insertDuration.observe({ ...SINK, outcome: 'ok' }, seconds());
        m.rowsInserted.inc(SINK, result.inserted.length);
        if (result.duplicates.length > 0) m.duplicatesDropped.inc(SINK, result.duplicates.length);
      }
      this.opts.logger.debug(
        { received: batch.length, inserted: result.inserted.length, duplicates: result.duplicates.length },
        'usage batch stored',
      );
      return result;
    } catch (e) {
      this.lastFailed = true;
      this.lastInserted = new Set();
      m?.insertDuration.observe({ ...SINK, outcome: 'error' }, seconds());
      m?.insertFailures.inc(SINK);
      for (const s of spans) {
        s.recordException(e as Error);
        s.setStatus({ code: SpanStatusCode.ERROR, message: (e as Error).message });
      }
      throw e;
    }
  }
}
