import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamManager } from '@nats-io/jetstream';
import { UsagePublisher } from '@switchyard/bus';
import type { DB } from '../../services/billing/src/db/database';
import { createAccount } from '../../services/billing/src/admin.commands';
import {
  ACME,
  adminDeps,
  balanceNano,
  buildBilling,
  connectTestNats,
  exited,
  freshBillingDb,
  ledgerCount,
  resetUsageStreams,
  spawnBilling,
  usageEvent,
  waitBillingConsumerIdle,
  waitFor,
  type BillingProcess,
} from '../support/billing';

const OPENING = 1_000_000_000_000n; // 1,000 USD

describe('the built billing service killed mid-stream', () => {
  let db: Kysely<DB>;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const running: BillingProcess[] = [];

  beforeAll(async () => {
    buildBilling();
    db = await freshBillingDb();
    nc = await connectTestNats();
    // A short ack wait, so what the killed process held is redelivered in seconds.
    jsm = await resetUsageStreams(nc, { billingAckWaitMs: 2_000 });
    await createAccount(adminDeps(db, nc), { id: ACME, balance_usd: '1000' });
  });

  afterAll(async () => {
    for (const p of running) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await nc?.drain();
    await db?.destroy();
  });

  it('books every event exactly once after a SIGKILL and a restart', async () => {
    const events = Array.from({ length: 600 }, (_, i) => usageEvent({ cost_nano: 1_000 + i }));
    const ids = events.map((e) => e.request_id);
    const total = events.reduce((s, e) => s + BigInt(e.cost_nano), 0n);
    const publisher = new UsagePublisher(nc);
    for (const e of events) publisher.publish(e);
    expect(await publisher.flush(20_000)).toBe(true);

    // Small batches so the kill lands while batches are in flight.
    const env = { BILLING_BATCH_SIZE: '10' };
    const first = await spawnBilling(env);
    running.push(first);
    await waitFor('some settled events', async () => (await ledgerCount(db, { request_ids: ids })) >= 50, 30_000, 5);
    first.child.kill('SIGKILL');
    expect((await exited(first.child)).signal).toBe('SIGKILL');
    const beforeRestart = await ledgerCount(db, { request_ids: ids });
    expect(beforeRestart).toBeLessThan(600);

    const second = await spawnBilling(env);
    running.push(second);
    await waitFor('all 600 events settled', async () => (await ledgerCount(db, { request_ids: ids })) === 600, 60_000);
    await waitBillingConsumerIdle(jsm, 30_000);
    expect(await ledgerCount(db, { request_ids: ids })).toBe(600);
    expect(await balanceNano(db, ACME)).toBe(OPENING - total);

    // SIGTERM drains: the process closes cleanly and promptly.
    second.child.kill('SIGTERM');
    const exit = await exited(second.child);
    expect(exit.code === 0 || exit.signal === 'SIGTERM').toBe(true);
    expect(second.output()).not.toMatch(/failed|unhandled/i);
  }, 120_000);
});
