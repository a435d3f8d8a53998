// Billing benchmark, one run, figures and ratios measured side by side:
//   1. ledger settle throughput: settleUsageBatch on the local Postgres
//      (events/s; batches of --batch, one connection, sequential), priced from
//      a 3-row price history × a group multiplier, without and with spend-lease
//      attribution (lease_ids on every event: one more UPDATE per batch);
//   2. key resolution at ingress: the KeyCache hit (a Map lookup and a sha256)
//      vs a miss (NATS request-reply to billing, a Postgres lookup), µs each;
//   3. spend leases at ingress: a LeaseBook hold + settle on the local
//      allowance vs one lease grant round trip to billing (NATS + one
//      Postgres transaction), µs each.
//
//   npm run build && BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db with "bench" or "test"> \
//     NATS_URL=nats://127.0.0.1:4222 node bench/billing.mjs [--events 20000] [--batch 200] [--lookups 2000]
//
// The billing tables of BENCH_DATABASE_URL are dropped and recreated: point it
// at a scratch database (its name must contain "bench" or "test").
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';

const require = createRequire(import.meta.url);
const { createDb } = require('../services/billing/dist/db/database.js');
const { migrateToLatest, MIGRATION_TABLE, MIGRATION_LOCK_TABLE } = require('../services/billing/dist/db/migrate.js');
const admin = require('../services/billing/dist/admin.commands.js');
const { settleUsageBatch } = require('../services/billing/dist/ledger/usage.settlement.js');
const { grantLease } = require('../services/billing/dist/leases/lease.repository.js');
const { startBilling } = require('../services/billing/dist/start-billing.js');
const { KeyCache } = require('../services/ingress/dist/auth/key-cache.js');
const { LeaseBook } = require('../services/ingress/dist/spend/lease-book.js');
const { NatsLeaseTransport } = require('../services/ingress/dist/spend/nats-lease.transport.js');
const { connect } = require('@nats-io/transport-node');
const { sql } = require('kysely');

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '20000' },
    batch: { type: 'string', default: '200' },
    lookups: { type: 'string', default: '2000' },
  },
});
const EVENTS = Number(args.events);
const BATCH = Number(args.batch);
const LOOKUPS = Number(args.lookups);
const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/switchyard_bench_billing';
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
if (!/bench|test/.test(new URL(DATABASE_URL).pathname)) throw new Error('BENCH_DATABASE_URL must name a scratch database containing "bench" or "test"');
process.env.SWITCHYARD_CREDENTIAL_KEY ??= Buffer.alloc(32, 7).toString('base64');

const ACCOUNT = 'bench-acct';
const TABLES = ['spend_leases', 'ledger', 'prices', 'channel_models', 'channels', 'api_keys', 'groups', 'balances', 'accounts', MIGRATION_TABLE, MIGRATION_LOCK_TABLE];
const noNotices = { publish: async () => ({ sent: false, reason: 'bench' }) };
const fmt = (n, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

function event(i, leaseIds) {
  const e = {
    schema: 'usage.v1',
    request_id: `req_${randomUUID().replace(/-/g, '')}`,
    occurred_at: new Date(Date.now() - (EVENTS - i)).toISOString(),
    trace_id: null,
    key_id: KEY_ID,
    account_id: ACCOUNT,
    model_requested: 'gpt-4o-mini',
    model_served: 'gpt-4o-mini-2024-07-18',
    channel_id: 'fast',
    provider: 'openai',
    route_mode: 'smart',
    stream: false,
    status: 'ok',
    http_status: 200,
    error_class: null,
    attempts: [{ channel_id: 'fast', provider: 'openai', status: 200, error_class: null, started_after_ms: 0, latency_ms: 120, ttft_ms: 80 }],
    usage: { input_tokens: 1000 + (i % 97), output_tokens: 300 + (i % 13), cached_input_tokens: 100, reasoning_tokens: 0 },
    usage_estimated: false,
    ttft_ms: 80,
    latency_ms: 120,
    tokens_per_second: 40,
    price: { input_nano_per_mtok: 150_000_000, output_nano_per_mtok: 600_000_000, cached_input_nano_per_mtok: 75_000_000 },
    cost_nano: 330_000,
  };
  if (leaseIds) e.lease_ids = leaseIds;
  return e;
}

async function settleRun(db, withLeases) {
  const leaseIds = withLeases ? [randomUUID(), randomUUID()] : null;
  if (leaseIds) {
    for (const id of leaseIds) {
      await grantLease(db, { lease_id: id, replica_id: 'bench', account_id: ACCOUNT, key_id: null, scope: 'account', period: null, want_nano: 1_000_000_000, committed_nano: 0, release: false }, { ttlMs: 600_000, graceMs: 0 });
    }
  }
  const events = Array.from({ length: EVENTS }, (_, i) => event(i, leaseIds));
  const t0 = performance.now();
  for (let i = 0; i < events.length; i += BATCH) await settleUsageBatch(db, events.slice(i, i + BATCH));
  const s = (performance.now() - t0) / 1000;
  return EVENTS / s;
}

async function timeEach(n, fn) {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn(i);
  return ((performance.now() - t0) * 1000) / n;
}

const db = createDb(DATABASE_URL, { max: 4 });
for (const t of TABLES) await sql`drop table if exists ${sql.table(t)} cascade`.execute(db);
await migrateToLatest(db);
const deps = { db, notifier: noNotices };
await admin.createAccount(deps, { id: ACCOUNT, balance_usd: '1000000' });
await admin.createChannel(deps, { id: 'fast', provider: 'openai', base_url: 'http://127.0.0.1:9/v1', models: ['gpt-4o-mini'] });
for (const [i, o] of [['0.10', '0.40'], ['0.12', '0.50'], ['0.15', '0.60']]) {
  await admin.setPrice(deps, { channel: 'fast', model: 'gpt-4o-mini', input_usd_per_mtok: i, output_usd_per_mtok: o, effective_from: new Date(Date.now() - 3_600_000).toISOString() });
}
await admin.upsertGroup(deps, { id: 'bench-group', name: 'bench', price_multiplier: '1.25' });
const key = await admin.createKey(deps, { account: ACCOUNT, name: 'bench', limits: { group: 'bench-group' } });
// Events name this key, so every charge applies the group multiplier.
const KEY_ID = key.id;

console.log(`# billing benchmark — ${EVENTS} events, batches of ${BATCH}, ${LOOKUPS} lookups`);
await settleRun(db, false); // warm-up (JIT, plans, pool)
const plain = await settleRun(db, false);
const leased = await settleRun(db, true);
console.log(`ledger settle (settleUsageBatch, ${BATCH}/txn, 1 connection):`);
console.log(`  without lease attribution : ${fmt(plain)} events/s  (target >= 5,000)`);
console.log(`  with lease_ids (2 leases) : ${fmt(leased)} events/s  (ratio ${fmt(leased / plain, 2)}× of plain)`);

const nc = await connect({ servers: NATS_URL, name: 'bench-billing' });
const billing = await startBilling({ config: { port: 0, host: '127.0.0.1', databaseUrl: DATABASE_URL, natsUrl: NATS_URL, consumeUsage: false, migrateOnStart: false } });
try {
  const apiKeys = [];
  for (let i = 0; i < 50; i++) apiKeys.push((await admin.createKey(deps, { account: ACCOUNT, name: `k${i}` })).key);
  const missCache = new KeyCache(nc, { ttlMs: 0, negativeTtlMs: 0, lookupTimeoutMs: 5_000 });
  const hitCache = new KeyCache(nc, { ttlMs: 3_600_000, negativeTtlMs: 3_600_000, lookupTimeoutMs: 5_000 });
  for (const k of apiKeys) await hitCache.resolve(k);
  await timeEach(200, (i) => missCache.resolve(apiKeys[i % apiKeys.length])); // warm-up
  const missUs = await timeEach(LOOKUPS, (i) => missCache.resolve(apiKeys[i % apiKeys.length]));
  const hitUs = await timeEach(LOOKUPS * 50, (i) => hitCache.resolve(apiKeys[i % apiKeys.length]));
  console.log('key resolution at ingress (KeyCache.resolve, sequential):');
  console.log(`  cache hit  : ${fmt(hitUs, 2)} µs/lookup`);
  console.log(`  cache miss : ${fmt(missUs, 1)} µs/lookup (NATS request-reply to billing + Postgres)  — ${fmt(missUs / hitUs, 0)}× a hit`);

  const book = new LeaseBook(new NatsLeaseTransport(nc, 5_000), { replicaId: 'bench', sliceNano: 10_000_000_000n, refusalBackoffMs: 1_000 });
  const scopes = [{ scope: 'account', accountId: ACCOUNT, keyId: null, period: null }];
  await book.hold(scopes, 1n);
  const holdUs = await timeEach(LOOKUPS * 50, async () => {
    const r = await book.hold(scopes, 30_000n);
    if (!r.ok) throw new Error(`refused: ${r.reason}`);
    book.settle(r.hold, 12_345n);
  });
  const transport = new NatsLeaseTransport(nc, 5_000);
  const leaseId = randomUUID();
  const grantUs = await timeEach(LOOKUPS / 4, () =>
    transport.request({ lease_id: leaseId, replica_id: 'bench', account_id: ACCOUNT, key_id: null, scope: 'account', period: null, want_nano: 1_000, committed_nano: 0, release: false }),
  );
  await book.close();
  console.log('spend leases at ingress:');
  console.log(`  hold + settle on the local lease : ${fmt(holdUs, 2)} µs/request`);
  console.log(`  one grant round trip to billing  : ${fmt(grantUs, 1)} µs  — ${fmt(grantUs / holdUs, 0)}× a local hold (paid once per slice, in the background)`);
} finally {
  await billing.close();
  await nc.drain();
  await db.destroy();
}
