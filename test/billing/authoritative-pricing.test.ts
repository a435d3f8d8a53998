import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamManager } from '@nats-io/jetstream';
import { UsagePublisher } from '@switchyard/bus';
import type { DB } from '../../services/billing/src/db/database';
import { startBilling, type RunningBilling } from '../../services/billing/src/start-billing';
import { createAccount, createChannel, createKey, setPrice, upsertGroup } from '../../services/billing/src/admin.commands';
import { findLedgerEntry } from '../../services/billing/src/ledger/ledger.repository';
import { ACME, adminDeps, balanceNano, connectTestNats, freshBillingDb, resetUsageStreams, usageEvent, waitBillingConsumerIdle, waitFor } from '../support/billing';

const OPENING = 100_000_000_000n;
const T0 = Date.parse('2026-01-10T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

describe('authoritative pricing at settle time', () => {
  let db: Kysely<DB>;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let publisher: UsagePublisher;
  let billing: RunningBilling;

  beforeAll(async () => {
    nc = await connectTestNats();
    publisher = new UsagePublisher(nc);
  });
  beforeEach(async () => {
    db = await freshBillingDb();
    jsm = await resetUsageStreams(nc);
    const deps = adminDeps(db, nc);
    await createAccount(deps, { id: ACME, balance_usd: '100.00' });
    await createChannel(deps, { id: 'fast', provider: 'openai', base_url: 'http://127.0.0.1:9/v1', api_key: 'sk-up-000000000001', models: ['gpt-4o-mini'] });
    billing = await startBilling({ config: { port: 0, host: '127.0.0.1', batchSize: 50, batchWaitMs: 1_000 } });
  });
  afterEach(async () => {
    await billing.close();
    await db.destroy();
  });
  afterAll(async () => {
    await publisher.close();
    await nc.drain();
  });

  const settled = async (ids: string[]) => {
    await waitFor('every event booked', async () => (await Promise.all(ids.map((id) => findLedgerEntry(db, id)))).every(Boolean));
    await waitBillingConsumerIdle(jsm);
  };

  it('bills each event at the price in force at its occurred_at, whatever ingress estimated', async () => {
    const deps = adminDeps(db, nc);
    // $0.15/$0.60 from T0, $0.30/$1.20 from T0+1h, $1/$2 from T0+2h.
    await setPrice(deps, { channel: 'fast', model: 'gpt-4o-mini', input_usd_per_mtok: '0.15', output_usd_per_mtok: '0.60', effective_from: iso(T0) });
    await setPrice(deps, { channel: 'fast', model: 'gpt-4o-mini', input_usd_per_mtok: '0.30', output_usd_per_mtok: '1.20', effective_from: iso(T0 + 3_600_000) });
    await setPrice(deps, { channel: 'fast', model: 'gpt-4o-mini', input_usd_per_mtok: '1', output_usd_per_mtok: '2', effective_from: iso(T0 + 7_200_000) });

    // 1000 in + 500 out: 450_000 nano at the first price, 900_000 at the second, 2_000_000 at the third.
    const cases = [
      { at: T0 + 1, expected: 450_000n },
      { at: T0 + 3_599_999, expected: 450_000n },
      { at: T0 + 3_600_000, expected: 900_000n },
      { at: T0 + 7_199_999, expected: 900_000n },
      { at: T0 + 7_200_000, expected: 2_000_000n },
    ];
    // Ingress always estimated with the first price (a stale plan): billing's price history wins.
    const events = cases.map((c) => usageEvent({ occurred_at: iso(c.at), cost_nano: 450_000 }));
    // Published out of order, as replicas would.
    for (const e of [...events].reverse()) publisher.publish(e);
    await settled(events.map((e) => e.request_id));

    let total = 0n;
    for (const [i, c] of cases.entries()) {
      const entry = (await findLedgerEntry(db, events[i]!.request_id))!;
      expect([i, entry.amount_nano]).toEqual([i, -c.expected]);
      const raw = await db.selectFrom('ledger').select(['estimate_nano', 'price_id']).where('request_id', '=', events[i]!.request_id).executeTakeFirstOrThrow();
      expect(raw.estimate_nano).toBe('450000');
      expect(raw.price_id).not.toBeNull();
      total += c.expected;
    }
    expect(await balanceNano(db, ACME)).toBe(OPENING - total);
  });

  it('applies the group multiplier exactly and prices cached-input and reasoning tokens at their own rates', async () => {
    const deps = adminDeps(db, nc);
    await setPrice(deps, {
      channel: 'fast',
      model: 'gpt-4o-mini',
      input_usd_per_mtok: '0.15',
      output_usd_per_mtok: '0.60',
      cached_input_usd_per_mtok: '0.075',
      reasoning_usd_per_mtok: '2.40',
      request_fee_usd: '0.000001',
      effective_from: iso(T0),
    });
    await upsertGroup(deps, { id: 'resellers', price_multiplier: '1.333333' });
    const key = await createKey(deps, { account: ACME, name: 'r', limits: { group: 'resellers' } });
    const plain = usageEvent({ occurred_at: iso(T0 + 1000), key_id: key.id, usage: { input_tokens: 1000, output_tokens: 500, cached_input_tokens: 400, reasoning_tokens: 100 } });
    const noGroup = usageEvent({ occurred_at: iso(T0 + 1000), key_id: 'key_without_group', usage: plain.usage });
    publisher.publish(plain);
    publisher.publish(noGroup);
    await settled([plain.request_id, noGroup.request_id]);

    // 600 uncached × 0.15 + 400 cached × 0.075 + 400 out × 0.60 + 100 reasoning × 2.40, per 1M tokens, + 1000 nano fee
    const base = (600n * 150_000_000n + 400n * 75_000_000n + 400n * 600_000_000n + 100n * 2_400_000_000n) / 1_000_000n + 1_000n; // 601_000
    expect(base).toBe(601_000n);
    expect((await findLedgerEntry(db, noGroup.request_id))!.amount_nano).toBe(-base);
    // × 1.333333, rounded half-up once: 601_000 × 1_333_333 / 1e6 = 801_333.133 → 801_333
    expect((await findLedgerEntry(db, plain.request_id))!.amount_nano).toBe(-801_333n);
    expect(await balanceNano(db, ACME)).toBe(OPENING - base - 801_333n);
  });

  it('prices cache-write input tokens (Anthropic cache_creation_input_tokens) at the cache-write rate; events without the field still settle', async () => {
    const deps = adminDeps(db, nc);
    await setPrice(deps, {
      channel: 'fast',
      model: 'gpt-4o-mini',
      input_usd_per_mtok: '3',
      output_usd_per_mtok: '15',
      cached_input_usd_per_mtok: '0.30',
      cache_write_usd_per_mtok: '3.75',
      effective_from: iso(T0),
    });
    const writes = usageEvent({ occurred_at: iso(T0 + 1000), usage: { input_tokens: 1000, output_tokens: 100, cached_input_tokens: 200, reasoning_tokens: 0, cache_write_input_tokens: 700 } });
    // An older producer: no cache_write_input_tokens at all.
    const old = usageEvent({ occurred_at: iso(T0 + 1000), usage: { input_tokens: 1000, output_tokens: 100, cached_input_tokens: 200, reasoning_tokens: 0 } });
    publisher.publish(writes);
    publisher.publish(old);
    await settled([writes.request_id, old.request_id]);
    // 100 uncached × 3 + 200 cache reads × 0.30 + 700 cache writes × 3.75 + 100 out × 15, per 1M tokens
    expect((await findLedgerEntry(db, writes.request_id))!.amount_nano).toBe(-((100n * 3_000n + 200n * 300n + 700n * 3_750n + 100n * 15_000n)));
    expect((await findLedgerEntry(db, old.request_id))!.amount_nano).toBe(-((800n * 3_000n + 200n * 300n + 100n * 15_000n)));
  });

  it('prices a model variant (gpt-4o-mini-high) at its base model’s price on the serving channel', async () => {
    const deps = adminDeps(db, nc);
    await setPrice(deps, { channel: 'fast', model: 'gpt-4o-mini', input_usd_per_mtok: '0.15', output_usd_per_mtok: '0.60', effective_from: iso(T0) });
    const variant = usageEvent({ occurred_at: iso(T0 + 1000), model_requested: 'gpt-4o-mini-thinking-2048', cost_nano: 1 });
    publisher.publish(variant);
    await settled([variant.request_id]);
    const entry = (await findLedgerEntry(db, variant.request_id))!;
    // 1000 in × 0.15 + 500 out × 0.60 per 1M tokens — not the (deliberately wrong) estimate of 1.
    expect(entry.amount_nano).toBe(-450_000n);
    const { price_id } = await db.selectFrom('ledger').select('price_id').where('request_id', '=', variant.request_id).executeTakeFirstOrThrow();
    expect(price_id).toEqual(expect.any(String));
  });

  it('books the ingress estimate (× multiplier) when no price was in force at occurred_at', async () => {
    const deps = adminDeps(db, nc);
    await setPrice(deps, { channel: 'fast', model: 'gpt-4o-mini', input_usd_per_mtok: '9', output_usd_per_mtok: '9', effective_from: iso(T0) });
    const early = usageEvent({ occurred_at: iso(T0 - 1), cost_nano: 12_345 });
    publisher.publish(early);
    await settled([early.request_id]);
    expect((await findLedgerEntry(db, early.request_id))!.amount_nano).toBe(-12_345n);
  });
});
