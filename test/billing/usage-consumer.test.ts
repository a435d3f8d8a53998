import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, type JetStreamManager } from '@nats-io/jetstream';
import { USAGE_SUBJECT_V1 } from '@switchyard/contracts';
import { UsagePublisher } from '@switchyard/bus';
import { createLogger } from '@switchyard/telemetry';
import type { DB } from '../../services/billing/src/db/database';
import { startBilling, type RunningBilling, type StartBillingOptions } from '../../services/billing/src/start-billing';
import { createAccount } from '../../services/billing/src/admin.commands';
import { findLedgerEntry } from '../../services/billing/src/ledger/ledger.repository';
import {
  ACME,
  adminDeps,
  balanceNano,
  deadLetters,
  connectTestNats,
  freshBillingDb,
  ledgerCount,
  resetUsageStreams,
  usageEvent,
  waitBillingConsumerIdle,
  waitFor,
} from '../support/billing';

const OPENING = 100_000_000_000n; // 100 USD

describe('usage settlement', () => {
  let db: Kysely<DB>;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let publisher: UsagePublisher;
  let billing: RunningBilling | undefined;

  const start = async (opts: StartBillingOptions = {}) => {
    billing = await startBilling({ ...opts, config: { port: 0, host: '127.0.0.1', batchSize: 200, batchWaitMs: 1_000, ...opts.config } });
    return billing;
  };

  beforeAll(async () => {
    nc = await connectTestNats();
    publisher = new UsagePublisher(nc);
  });

  beforeEach(async () => {
    db = await freshBillingDb();
    jsm = await resetUsageStreams(nc);
    await createAccount(adminDeps(db, nc), { id: ACME, balance_usd: '100.00' });
  });

  afterEach(async () => {
    await billing?.close();
    billing = undefined;
    await db.destroy();
  });

  afterAll(async () => {
    await publisher.close();
    await nc.drain();
  });

  it('books one ledger row per event and moves the balance by exactly its cost', async () => {
    await start();
    const ev = usageEvent({ cost_nano: 450_123, trace_id: 'a'.repeat(32), usage: { input_tokens: 1200, output_tokens: 300, cached_input_tokens: 200, reasoning_tokens: 50 } });
    publisher.publish(ev);
    const entry = await waitFor('the ledger row', () => findLedgerEntry(db, ev.request_id));
    expect(entry).toMatchObject({
      request_id: ev.request_id,
      kind: 'usage',
      account_id: ACME,
      key_id: 'key_test',
      amount_nano: -450_123n,
      balance_after_nano: OPENING - 450_123n,
      model: 'gpt-4o-mini-2024-07-18',
      channel_id: 'fast',
      input_tokens: 1200,
      output_tokens: 300,
      cached_input_tokens: 200,
      reasoning_tokens: 50,
      trace_id: 'a'.repeat(32),
    });
    expect(entry.occurred_at.toISOString()).toBe(ev.occurred_at);
    expect(await balanceNano(db, ACME)).toBe(OPENING - 450_123n);
  });

  it('books a free request too: a row with amount 0, balance unchanged', async () => {
    await start();
    const ev = usageEvent({ cost_nano: 0, status: 'error', http_status: 502, error_class: 'transient', channel_id: '', model_served: '' });
    publisher.publish(ev);
    const entry = await waitFor('the ledger row', () => findLedgerEntry(db, ev.request_id));
    expect(entry).toMatchObject({ amount_nano: 0n, balance_after_nano: OPENING, channel_id: null, model: 'gpt-4o-mini' });
    expect(await balanceNano(db, ACME)).toBe(OPENING);
  });

  it('settles a duplicate publish once, whether JetStream or the ledger catches it', async () => {
    await start();
    const ev = usageEvent({ cost_nano: 1_000_000 });
    const js = jetstream(nc);
    const data = JSON.stringify(ev);
    await js.publish(USAGE_SUBJECT_V1, data, { msgID: ev.request_id });
    await js.publish(USAGE_SUBJECT_V1, data, { msgID: ev.request_id }); // deduplicated by the stream
    await js.publish(USAGE_SUBJECT_V1, data, { msgID: `${ev.request_id}-retry` }); // reaches the consumer
    await waitFor('the ledger row', () => findLedgerEntry(db, ev.request_id));
    await waitBillingConsumerIdle(jsm);
    expect(await ledgerCount(db, { account_id: ACME, kind: 'usage' })).toBe(1);
    expect(await balanceNano(db, ACME)).toBe(OPENING - 1_000_000n);
    expect(billing!.consumer!.stats.duplicates).toBe(1);
  });

  it('settles a duplicate that arrives in a later batch, after a restart, once', async () => {
    const ev = usageEvent({ cost_nano: 777 });
    await start();
    publisher.publish(ev);
    await waitFor('the ledger row', () => findLedgerEntry(db, ev.request_id));
    await billing!.close();
    await jetstream(nc).publish(USAGE_SUBJECT_V1, JSON.stringify(ev), { msgID: `${ev.request_id}-again` });
    await start();
    await waitBillingConsumerIdle(jsm);
    expect(await ledgerCount(db, { account_id: ACME, kind: 'usage' })).toBe(1);
    expect(await balanceNano(db, ACME)).toBe(OPENING - 777n);
  });

  it('keeps the books exact under 200 concurrent events for one account', async () => {
    await start();
    const events = Array.from({ length: 200 }, (_, i) => usageEvent({ cost_nano: 1_000_003 * (i + 1) + (i % 7) }));
    // Published from many producers at once, in no particular order.
    const js = jetstream(nc);
    await Promise.all(events.map((e) => js.publish(USAGE_SUBJECT_V1, JSON.stringify(e), { msgID: e.request_id })));
    const total = events.reduce((s, e) => s + BigInt(e.cost_nano), 0n);
    await waitFor('200 ledger rows', async () => (await ledgerCount(db, { account_id: ACME, kind: 'usage' })) === 200);
    await waitBillingConsumerIdle(jsm);
    expect(await balanceNano(db, ACME)).toBe(OPENING - total);
    // The running balance is consistent row by row, and the ledger sums to the balance.
    const rows = await db.selectFrom('ledger').select(['amount_nano', 'balance_after_nano']).where('account_id', '=', ACME).orderBy('id').execute();
    let running = 0n;
    for (const r of rows) {
      running += BigInt(r.amount_nano);
      expect(BigInt(r.balance_after_nano!)).toBe(running);
    }
    expect(running).toBe(OPENING - total);
  });

  it('keeps the books exact under 1,000 concurrent events for one account, and books each once when all are redelivered', async () => {
    await start();
    const events = Array.from({ length: 1_000 }, (_, i) => usageEvent({ cost_nano: 999_983 * (i + 1) + (i % 13) }));
    const js = jetstream(nc);
    await Promise.all(events.map((e) => js.publish(USAGE_SUBJECT_V1, JSON.stringify(e), { msgID: e.request_id })));
    const total = events.reduce((s, e) => s + BigInt(e.cost_nano), 0n);
    await waitFor('1,000 ledger rows', async () => (await ledgerCount(db, { account_id: ACME, kind: 'usage' })) === 1_000, 60_000);
    await waitBillingConsumerIdle(jsm, 60_000);
    expect(await balanceNano(db, ACME)).toBe(OPENING - total);
    // Every event again, under new message ids (JetStream's dedup does not catch them): the ledger does.
    await Promise.all(events.map((e) => js.publish(USAGE_SUBJECT_V1, JSON.stringify(e), { msgID: `${e.request_id}-redelivered` })));
    await waitFor('the redeliveries counted as duplicates', async () => billing!.consumer!.stats.duplicates >= 1_000 || undefined, 60_000);
    await waitBillingConsumerIdle(jsm, 60_000);
    expect(await ledgerCount(db, { account_id: ACME, kind: 'usage' })).toBe(1_000);
    expect(await balanceNano(db, ACME)).toBe(OPENING - total);
    const sum = await db.selectFrom('ledger').select((eb) => eb.fn.sum<string>('amount_nano').as('s')).where('account_id', '=', ACME).executeTakeFirstOrThrow();
    expect(BigInt(sum.s)).toBe(OPENING - total);
  });

  it('settles events of several accounts in one batch, each against its own balance', async () => {
    await createAccount(adminDeps(db, nc), { id: 'globex-billing-test', balance_usd: '5' });
    await start();
    const events = [
      ...Array.from({ length: 30 }, () => usageEvent({ account_id: ACME, cost_nano: 1_000 })),
      ...Array.from({ length: 20 }, () => usageEvent({ account_id: 'globex-billing-test', cost_nano: 3_000 })),
    ];
    for (const e of events) publisher.publish(e);
    await publisher.flush();
    await waitFor('50 rows', async () => (await ledgerCount(db, { request_ids: events.map((e) => e.request_id) })) === 50);
    expect(await balanceNano(db, ACME)).toBe(OPENING - 30_000n);
    expect(await balanceNano(db, 'globex-billing-test')).toBe(5_000_000_000n - 60_000n);
  });

  it('books usage of an account without a balance without blocking the others', async () => {
    await start();
    const orphan = usageEvent({ account_id: 'ghost-billing-test', cost_nano: 10 });
    const normal = usageEvent({ cost_nano: 20 });
    publisher.publish(orphan);
    publisher.publish(normal);
    await waitFor('both rows', async () => (await ledgerCount(db, { request_ids: [orphan.request_id, normal.request_id] })) === 2);
    expect(await findLedgerEntry(db, orphan.request_id)).toMatchObject({ amount_nano: -10n, balance_after_nano: null });
    expect(await balanceNano(db, ACME)).toBe(OPENING - 20n);
  });

  it('sends an invalid event to the dead-letter stream with the reason, and books nothing', async () => {
    await start();
    const suffix = Date.now().toString(36);
    const bad = { ...usageEvent(), cost_nano: -5, request_id: `req-invalid-${suffix}` };
    const js = jetstream(nc);
    await js.publish(USAGE_SUBJECT_V1, JSON.stringify(bad), { msgID: bad.request_id });
    await js.publish(USAGE_SUBJECT_V1, '{not json', { msgID: `req-garbage-${suffix}` });
    const dead = await waitFor('two dead letters', async () => {
      const found = await deadLetters(jsm, [bad.request_id, `req-garbage-${suffix}`]);
      return found.size === 2 ? found : undefined;
    });
    expect(dead.get(bad.request_id)).toMatch(/cost_nano/);
    expect(dead.get(`req-garbage-${suffix}`)).toMatch(/invalid JSON/);
    // A valid event published after them is settled only once they were handled.
    const sentinel = usageEvent({ cost_nano: 3 });
    publisher.publish(sentinel);
    await waitFor('the sentinel row', () => findLedgerEntry(db, sentinel.request_id));
    expect(await findLedgerEntry(db, bad.request_id)).toBeUndefined();
    expect(await ledgerCount(db, { account_id: ACME })).toBe(2); // the opening balance and the sentinel
    expect(await balanceNano(db, ACME)).toBe(OPENING - 3n);
  });

  it('books exactly once when the process fails between commit and ack', async () => {
    let failures = 0;
    await start({
      logger: createLogger('billing', 'silent'),
      afterCommit: () => {
        if (failures++ === 0) throw new Error('simulated crash between commit and ack');
      },
    });
    const events = Array.from({ length: 5 }, (_, i) => usageEvent({ cost_nano: 100 + i }));
    for (const e of events) publisher.publish(e);
    await publisher.flush();
    // The first batch committed, then failed: it is nak'ed and redelivered.
    await waitFor('the redelivery', async () => failures >= 2, 20_000);
    await waitBillingConsumerIdle(jsm);
    expect(await ledgerCount(db, { account_id: ACME, kind: 'usage' })).toBe(5);
    expect(await balanceNano(db, ACME)).toBe(OPENING - events.reduce((s, e) => s + BigInt(e.cost_nano), 0n));
    expect(billing!.consumer!.stats.duplicates).toBeGreaterThanOrEqual(1);
  });
});
