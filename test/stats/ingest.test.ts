import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpanKind, context, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { jetstream } from '@nats-io/jetstream';
import { UsageConsumer, UsagePublisher, type NatsConnection } from '@switchyard/bus';
import type { ClickHouseClient } from '@switchyard/clickhouse';
import { STATS_CONSUMER, USAGE_SUBJECT_V1 } from '@switchyard/contracts';
import { createLogger, startTelemetry, type Telemetry } from '@switchyard/telemetry';
import { startStats, type StatsHandle } from '../../services/stats/src/stats.app';
import { UsageStoreConsumer } from '../../services/stats/src/usage.consumer';
import { countRows, resetClickHouse, selectRows } from '../support/clickhouse';
import { resetUsageBus, streamSeqOf, usageEvent, waitFor, watchStatsAcks } from './helpers';

const exporter = new InMemorySpanExporter();
let telemetry: Telemetry;
let ch: ClickHouseClient;
let nc: NatsConnection;
let acks: ReturnType<typeof watchStatsAcks>;

const rowsOf = (requestId: string) => countRows(ch, 'usage_events', `request_id = '${requestId.replace(/[^A-Za-z0-9_-]/g, '')}'`);

beforeAll(async () => {
  telemetry = startTelemetry({ serviceName: 'stats-test', spanProcessors: [new SimpleSpanProcessor(exporter)] });
  ch = await resetClickHouse();
  nc = await resetUsageBus();
  acks = watchStatsAcks(nc);
});
afterAll(async () => {
  acks?.stop();
  await nc?.drain();
  await ch?.close();
  await telemetry?.shutdown();
});

describe('stats stores usage events from the bus', () => {
  let stats: StatsHandle;
  beforeAll(async () => {
    stats = await startStats({ config: { port: 0, host: '127.0.0.1', batchWaitMs: 1000 } });
  });
  afterAll(async () => {
    await stats?.close();
  });

  it('stores a published event as one row with its tokens, cost and trace, under the producer trace', async () => {
    const publisher = new UsagePublisher(nc);
    const tracer = trace.getTracer('ingress-under-test');
    const producer = tracer.startSpan('ingress.request');
    const event = usageEvent({ trace_id: producer.spanContext().traceId });
    publisher.publish(event, trace.setSpan(context.active(), producer));
    expect(await publisher.flush()).toBe(true);
    producer.end();

    await waitFor('the row', async () => (await rowsOf(event.request_id)) === 1);
    const [row] = await selectRows<Record<string, unknown>>(
      ch,
      `SELECT * FROM usage_events WHERE request_id = '${event.request_id}'`,
    );
    expect(row).toMatchObject({
      request_id: event.request_id,
      trace_id: producer.spanContext().traceId,
      input_tokens: 1200,
      output_tokens: 345,
      cached_input_tokens: 200,
      reasoning_tokens: 0,
      cost_nano: '372000',
      price_input_nano_per_mtok: '150000000',
      stream: 1,
      status: 'ok',
      error_class: '',
      ttft_ms: 120.25,
      latency_ms: 812.5,
      attempt_count: 1,
    });
    expect(JSON.parse(row!.attempts as string)).toEqual(event.attempts);
    const at = new Date(event.occurred_at);
    expect(row!.occurred_at_ms).toBe(at.getUTCMilliseconds());
    expect(row!.event_date).toBe(event.occurred_at.slice(0, 10));

    const span = await waitFor('the stats.store span', () =>
      exporter
        .getFinishedSpans()
        .find((s: ReadableSpan) => s.name === 'stats.store' && s.attributes['switchyard.request_id'] === event.request_id),
    );
    expect(span.spanContext().traceId).toBe(producer.spanContext().traceId);
    expect(span.attributes['switchyard.stats.duplicate']).toBe(false);
    // producer → `usage publish` (PRODUCER, ended by the JetStream ack) → stats.store
    const finished = exporter.getFinishedSpans();
    const publish = finished.find((s) => s.name === 'usage publish' && s.attributes['messaging.message.id'] === event.request_id)!;
    expect(publish).toBeDefined();
    expect(publish.kind).toBe(SpanKind.PRODUCER);
    expect(publish.parentSpanContext?.spanId).toBe(producer.spanContext().spanId);
    expect(publish.attributes).toMatchObject({ 'messaging.system': 'nats', 'messaging.destination.name': USAGE_SUBJECT_V1 });
    expect(span.parentSpanContext?.spanId).toBe(publish.spanContext().spanId);
    // stats.store → stats.store_batch → the ClickHouse insert, with its table and row count and no values.
    const batch = finished.find((s) => s.name === 'stats.store_batch' && s.parentSpanContext?.spanId === span.spanContext().spanId)!;
    expect(batch).toBeDefined();
    const insert = finished.find((s) => s.parentSpanContext?.spanId === batch.spanContext().spanId && s.attributes['db.operation'] === 'INSERT')!;
    expect(insert).toBeDefined();
    expect(insert.name).toBe('clickhouse INSERT usage_events');
    expect(insert.kind).toBe(SpanKind.CLIENT);
    expect(insert.attributes).toMatchObject({ 'db.system': 'clickhouse', 'db.sql.table': 'usage_events', 'db.clickhouse.rows': 1 });
    expect(JSON.stringify(insert.attributes)).not.toContain(event.request_id);

    const seq = (await streamSeqOf(nc, event.request_id))!;
    await waitFor('the ack', () => acks.kinds(seq).includes('ack'));
    expect(acks.kinds(seq)).toEqual(['ack']);
  });

  it('keeps one row when the same event arrives twice under different message ids', async () => {
    const js = jetstream(nc);
    const event = usageEvent();
    const data = JSON.stringify(event);
    const first = await js.publish(USAGE_SUBJECT_V1, data, { msgID: `${event.request_id}-a` });
    const second = await js.publish(USAGE_SUBJECT_V1, data, { msgID: `${event.request_id}-b` });
    expect(second.duplicate).toBe(false);
    await waitFor('both deliveries acked', () => [first.seq, second.seq].every((seq) => acks.kinds(seq).includes('ack')));
    expect(await rowsOf(event.request_id)).toBe(1);
  });

  it('keeps one row when an event is repeated among other events', async () => {
    const js = jetstream(nc);
    const event = usageEvent();
    const other = usageEvent();
    const seqs: number[] = [];
    for (const [i, e] of [event, event, other, event].entries()) {
      seqs.push((await js.publish(USAGE_SUBJECT_V1, JSON.stringify(e), { msgID: `${e.request_id}-${i}` })).seq);
    }
    await waitFor('every delivery acked', () => seqs.every((seq) => acks.kinds(seq).includes('ack')));
    expect(await rowsOf(event.request_id)).toBe(1);
    expect(await rowsOf(other.request_id)).toBe(1);
  });
});

describe('the write path', () => {
  it('stores strings with tabs, newlines, backslashes, quotes and non-ASCII exactly, and NULL measurements as NULL', async () => {
    const logger = createLogger('stats-test', 'silent');
    const store = new UsageStoreConsumer({ nc, clickhouse: ch, logger, batchSize: 100, batchWaitMs: 1000 });
    const tricky = 'm\tod\nel \\ \'q\' "d" \r é 模型 \\N';
    const e = usageEvent({ model_served: tricky, ttft_ms: null, tokens_per_second: null, occurred_at: '2025-03-01T10:20:30+02:00' });
    await store.handle([{ event: e, traceContext: context.active(), deliveries: 1 }]);
    const [row] = await selectRows<Record<string, unknown>>(
      ch,
      `SELECT model_served, ttft_ms, tokens_per_second, toString(occurred_at) AS at, event_date FROM usage_events WHERE request_id = '${e.request_id}'`,
    );
    expect(row).toEqual({ model_served: tricky, ttft_ms: null, tokens_per_second: null, at: '2025-03-01 08:20:30', event_date: '2025-03-01' });
  });

  it('drops repeats inside one batch and ids already stored, in one insert', async () => {
    const logger = createLogger('stats-test', 'silent');
    const store = new UsageStoreConsumer({ nc, clickhouse: ch, logger, batchSize: 100, batchWaitMs: 1000 });
    const a = usageEvent();
    const b = usageEvent({ account_id: 'other-account', occurred_at: '2024-12-31T23:59:59.999Z' });
    const received = (e: ReturnType<typeof usageEvent>) => ({ event: e, traceContext: context.active(), deliveries: 1 });
    expect(await store.handle([received(a), received(a), received(b)])).toEqual({
      inserted: [a.request_id, b.request_id],
      duplicates: [a.request_id],
    });
    expect(await store.handle([received(b), received(a)])).toEqual({ inserted: [], duplicates: [b.request_id, a.request_id] });
    expect(await rowsOf(a.request_id)).toBe(1);
    expect(await rowsOf(b.request_id)).toBe(1);
  });
});

describe('redelivery', () => {
  it('stores a batch once even when it was written but its ack was lost', async () => {
    const logger = createLogger('stats-test', 'silent');
    const store = new UsageStoreConsumer({ nc, clickhouse: ch, logger, batchSize: 100, batchWaitMs: 1000 });
    const deliveries: number[] = [];
    let failedOnce = false;
    // The stats write path, but the first batch "loses" its ack after the insert committed.
    const consumer = new UsageConsumer(nc, {
      durable: STATS_CONSUMER,
      batchSize: 100,
      maxWaitMs: 1000,
      handle: async (batch) => {
        deliveries.push(...batch.map((b) => b.deliveries));
        await store.handle(batch);
        if (!failedOnce) {
          failedOnce = true;
          throw new Error('ack lost after the insert');
        }
      },
    });
    const event = usageEvent();
    const { seq } = await jetstream(nc).publish(USAGE_SUBJECT_V1, JSON.stringify(event), { msgID: event.request_id });
    consumer.start();
    try {
      await waitFor('the ack of the redelivery', () => acks.kinds(seq).includes('ack'), 20_000);
    } finally {
      await consumer.stop();
    }
    // The same stream message came twice: nak'ed, then acked.
    expect(acks.kinds(seq)).toEqual(['nak', 'ack']);
    // Not asserted [1, 2]: nats-server 2.9 (the apt package ensure-infra.sh
    // installs) hands a redelivery out as a first delivery, count 1, when it
    // falls due just as a pull request expires — likely here, the nak's 2 s
    // against 1 s pulls. Fixed upstream in 2.10 (nats-server#5305).
    expect(deliveries).toHaveLength(2);
    expect(deliveries[0]).toBe(1);
    expect(await rowsOf(event.request_id)).toBe(1);
    const dupSpan = exporter
      .getFinishedSpans()
      .filter((s) => s.name === 'stats.store' && s.attributes['switchyard.request_id'] === event.request_id);
    expect(dupSpan.map((s) => s.attributes['switchyard.stats.duplicate'])).toEqual([false, true]);
  });
});
