import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import type { NatsConnection } from '@nats-io/transport-node';
import { context, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { UsagePublisher } from '@switchyard/bus';
import { startTelemetry, type Telemetry } from '@switchyard/telemetry';
import type { DB } from '../../services/billing/src/db/database';
import { startBilling, type RunningBilling } from '../../services/billing/src/start-billing';
import { createAccount } from '../../services/billing/src/admin.commands';
import { findLedgerEntry } from '../../services/billing/src/ledger/ledger.repository';
import { ACME, adminDeps, connectTestNats, freshBillingDb, resetUsageStreams, usageEvent, waitFor } from '../support/billing';

describe('settlement tracing', () => {
  const exporter = new InMemorySpanExporter();
  let telemetry: Telemetry;
  let db: Kysely<DB>;
  let nc: NatsConnection;
  let billing: RunningBilling;

  beforeAll(async () => {
    telemetry = startTelemetry({ serviceName: 'billing-test', spanProcessors: [new SimpleSpanProcessor(exporter)], env: {} });
    db = await freshBillingDb();
    nc = await connectTestNats();
    await resetUsageStreams(nc);
    await createAccount(adminDeps(db, nc), { id: ACME, balance_usd: '1' });
    billing = await startBilling({ config: { port: 0, host: '127.0.0.1' } });
  });

  afterAll(async () => {
    await billing?.close();
    await nc?.drain();
    await db?.destroy();
    await telemetry?.shutdown();
  });

  it('records billing.settle as a child of the producer span and stores the trace id in the ledger', async () => {
    const producer = trace.getTracer('ingress-test').startSpan('ingress.request');
    const ctx = trace.setSpan(context.active(), producer);
    const traceId = producer.spanContext().traceId;
    const ev = usageEvent({ trace_id: traceId, cost_nano: 42 });
    const publisher = new UsagePublisher(nc);
    publisher.publish(ev, ctx);
    await publisher.close();
    producer.end();

    const entry = await waitFor('the ledger row', () => findLedgerEntry(db, ev.request_id));
    expect(entry.trace_id).toBe(traceId);

    const settle = await waitFor('the settle span', async () =>
      exporter.getFinishedSpans().find((s) => s.name === 'billing.settle' && s.attributes['switchyard.request_id'] === ev.request_id),
    );
    expect(settle.spanContext().traceId).toBe(traceId);
    // producer → `usage publish` → billing.settle: the settlement hangs under the publish of its event.
    const publish = exporter.getFinishedSpans().find((s) => s.name === 'usage publish' && s.attributes['messaging.message.id'] === ev.request_id)!;
    expect(publish.parentSpanContext?.spanId).toBe(producer.spanContext().spanId);
    expect(settle.parentSpanContext?.spanId).toBe(publish.spanContext().spanId);
    const batch = exporter.getFinishedSpans().find((s) => s.name === 'billing.settle_batch' && s.parentSpanContext?.spanId === settle.spanContext().spanId);
    expect(batch?.attributes['messaging.batch.message_count']).toBe(1);
    expect(settle.attributes).toMatchObject({ 'switchyard.account_id': ACME, 'switchyard.cost_nano': 42, 'billing.outcome': 'settled' });
  });
});
