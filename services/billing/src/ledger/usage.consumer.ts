import type { Kysely } from 'kysely';
import { SpanStatusCode, context, trace, type Span, type Tracer } from '@opentelemetry/api';
import { UsageConsumer, type NatsConnection, type ReceivedUsage } from '@switchyard/bus';
import { BILLING_CONSUMER } from '@switchyard/contracts';
import { spansExported, type Logger } from '@switchyard/telemetry';
import type { DB } from '../db/database';
import { settleUsageBatch, type SettleOutcome } from './usage.settlement';

export interface BillingConsumerOptions {
  batchSize: number;
  maxWaitMs: number;
  durable?: string;
  tracer?: Tracer;
  /**
   * Runs after the batch committed and before it is acked. A throw here makes
   * the bus nak the batch, exactly like a crash between commit and ack —
   * tests use it to prove a redelivery books nothing twice.
   */
  afterCommit?: (batch: ReceivedUsage[], outcomes: Map<string, SettleOutcome>) => void | Promise<void>;
  /** Told of each event's outcome and the batch's settle time (metrics). */
  onSettled?: (outcome: 'settled' | 'duplicate', seconds: number) => void;
}

/**
 * The durable usage consumer: settles each batch in one transaction, then the
 * bus acks. One `billing.settle` span per event, a child of the producer's
 * trace (from the message headers), so the settlement shows in the request's
 * trace. While spans are exported, the batch's transaction runs in a
 * `billing.settle_batch` span (child of the first event's span, linked to the
 * others'): the Postgres spans of the pg instrumentation hang under it.
 */
export class BillingUsageConsumer {
  private readonly consumer: UsageConsumer;
  private readonly tracer: Tracer;
  private settled = 0;
  private duplicates = 0;
  private lastError: string | undefined;

  constructor(
    nc: NatsConnection,
    private readonly db: Kysely<DB>,
    private readonly log: Logger,
    private readonly opts: BillingConsumerOptions,
  ) {
    this.tracer = opts.tracer ?? trace.getTracer('switchyard-billing');
    this.consumer = new UsageConsumer(nc, {
      durable: opts.durable ?? BILLING_CONSUMER,
      batchSize: opts.batchSize,
      maxWaitMs: opts.maxWaitMs,
      handle: (batch) => this.handle(batch),
      onError: (err) => {
        this.lastError = err.message;
        log.error({ err: err.message }, 'usage consumer error; unacked events will be redelivered');
      },
      onDeadLetter: (requestId, reason) => log.warn({ request_id: requestId, reason }, 'invalid usage event dead-lettered'),
    });
  }

  start(): void {
    this.consumer.start();
  }

  /** Stops fetching; the batch in hand is committed and acked first. */
  stop(): Promise<void> {
    return this.consumer.stop();
  }

  get stats() {
    return { settled: this.settled, duplicates: this.duplicates, lastError: this.lastError };
  }

  private async handle(batch: ReceivedUsage[]): Promise<void> {
    const spans: Span[] = batch.map((r) =>
      this.tracer.startSpan(
        'billing.settle',
        {
          attributes: {
            'switchyard.request_id': r.event.request_id,
            'switchyard.account_id': r.event.account_id,
            'switchyard.key_id': r.event.key_id,
            'switchyard.cost_nano': r.event.cost_nano,
            'messaging.message.delivery_count': r.deliveries,
          },
        },
        r.traceContext,
      ),
    );
    let outcomes: Map<string, SettleOutcome>;
    const started = performance.now();
    const batchSpan = spansExported()
      ? this.tracer.startSpan(
          'billing.settle_batch',
          {
            attributes: { 'messaging.batch.message_count': batch.length },
            links: spans.slice(1, 129).map((s) => ({ context: s.spanContext() })),
          },
          trace.setSpan(context.active(), spans[0]!),
        )
      : undefined;
    try {
      const settle = () =>
        settleUsageBatch(
          this.db,
          batch.map((r) => r.event),
        );
      outcomes = await (batchSpan ? context.with(trace.setSpan(context.active(), batchSpan), settle) : settle());
    } catch (e) {
      batchSpan?.setStatus({ code: SpanStatusCode.ERROR, message: 'settlement failed' });
      batchSpan?.end();
      for (const s of spans) {
        s.recordException(e as Error);
        s.setStatus({ code: SpanStatusCode.ERROR, message: 'settlement failed' });
        s.end();
      }
      throw e;
    }
    batchSpan?.end();
    const seen = new Set<string>();
    batch.forEach((r, i) => {
      const id = r.event.request_id;
      const outcome = seen.has(id) ? 'duplicate' : (outcomes.get(id)?.status ?? 'duplicate');
      seen.add(id);
      if (outcome === 'duplicate') this.duplicates++;
      else this.settled++;
      this.opts.onSettled?.(outcome === 'duplicate' ? 'duplicate' : 'settled', (performance.now() - started) / 1000);
      if (outcome === 'no_balance') this.log.warn({ request_id: id, account_id: r.event.account_id }, 'usage booked for an account without a balance');
      spans[i]!.setAttribute('billing.outcome', outcome);
      spans[i]!.end();
    });
    this.lastError = undefined;
    this.log.debug({ events: batch.length }, 'usage batch settled');
    await this.opts.afterCommit?.(batch, outcomes);
  }
}
