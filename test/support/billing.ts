import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { AckPolicy, DeliverPolicy, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  BILLING_CONSUMER,
  DLQ_REASON_HEADER,
  USAGE_DLQ_STREAM,
  USAGE_SCHEMA_V1,
  USAGE_STREAM,
  USAGE_SUBJECT_V1,
  type UsageEventV1,
} from '@switchyard/contracts';
import { ensureUsageTopology } from '@switchyard/bus';
import { createDb, type DB } from '../../services/billing/src/db/database';
import { migrateToLatest, MIGRATION_LOCK_TABLE, MIGRATION_TABLE } from '../../services/billing/src/db/migrate';
import { connectionNotifier } from '../../services/billing/src/admin.notifier';
import type { AdminDeps } from '../../services/billing/src/admin.commands';

export const ROOT = resolve(__dirname, '../..');
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/switchyard_test';
export const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

const BILLING_TABLES = ['spend_leases', 'ledger', 'prices', 'channel_models', 'channels', 'api_keys', 'groups', 'balances', 'accounts', MIGRATION_TABLE, MIGRATION_LOCK_TABLE];

/**
 * The channel-credential key of the billing tests (32 bytes, base64). Set in
 * this process's env so in-process and spawned billing use it, as
 * deploy/local/start.sh does for `npm start`.
 */
export const TEST_CREDENTIAL_KEY = Buffer.alloc(32, 7).toString('base64');
process.env.SWITCHYARD_CREDENTIAL_KEY ??= TEST_CREDENTIAL_KEY;
export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789';

/** Drops every billing table (and the migration bookkeeping): an empty database for billing. */
export async function dropBillingSchema(db: Kysely<DB>): Promise<void> {
  for (const t of BILLING_TABLES) await sql`drop table if exists ${sql.table(t)} cascade`.execute(db);
}

/** A fresh, migrated billing schema in the test database, and a Kysely on it. */
export async function freshBillingDb(): Promise<Kysely<DB>> {
  const db = createDb(DATABASE_URL, { max: 5 });
  await dropBillingSchema(db);
  await migrateToLatest(db);
  return db;
}

export async function connectTestNats(): Promise<NatsConnection> {
  return connect({ servers: NATS_URL, name: 'billing-test' });
}

/**
 * Deletes and recreates the usage streams and durable consumers. With
 * `billingAckWaitMs`, billing's durable is created first with that ack wait,
 * so a test that kills the consumer sees the redelivery in seconds rather
 * than after the production minute.
 */
export async function resetUsageStreams(nc: NatsConnection, opts: { billingAckWaitMs?: number } = {}): Promise<JetStreamManager> {
  const jsm = await jetstreamManager(nc);
  for (const s of [USAGE_STREAM, USAGE_DLQ_STREAM]) {
    await jsm.streams.delete(s).catch((e: Error) => {
      if (!/not found/i.test(e.message)) throw e;
    });
  }
  await ensureUsageTopology(jsm);
  if (opts.billingAckWaitMs !== undefined) {
    await jsm.consumers.delete(USAGE_STREAM, BILLING_CONSUMER);
    await jsm.consumers.add(USAGE_STREAM, {
      durable_name: BILLING_CONSUMER,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: USAGE_SUBJECT_V1,
      ack_wait: opts.billingAckWaitMs * 1_000_000,
      max_ack_pending: 20_000,
    });
  }
  return jsm;
}

/** Admin command dependencies over a test database and a real NATS connection. */
export function adminDeps(db: Kysely<DB>, nc: NatsConnection): AdminDeps {
  return { db, notifier: connectionNotifier(nc), credentialKey: Buffer.from(process.env.SWITCHYARD_CREDENTIAL_KEY!, 'base64') };
}

/**
 * The account the billing tests book against. Distinctive, because NATS is
 * shared: another suite's stray usage events must not land on it.
 */
export const ACME = 'acme-billing-test';

/** A valid usage.v1 event; override what the test is about. */
export function usageEvent(overrides: Partial<UsageEventV1> = {}): UsageEventV1 {
  return {
    schema: USAGE_SCHEMA_V1,
    request_id: `req-${randomUUID()}`,
    occurred_at: new Date().toISOString(),
    trace_id: null,
    key_id: 'key_test',
    account_id: ACME,
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
    usage: { input_tokens: 1000, output_tokens: 500, cached_input_tokens: 0, reasoning_tokens: 0 },
    usage_estimated: false,
    ttft_ms: 80,
    latency_ms: 120,
    tokens_per_second: 40,
    price: { input_nano_per_mtok: 150_000_000, output_nano_per_mtok: 600_000_000, cached_input_nano_per_mtok: 75_000_000 },
    cost_nano: 450_000,
    ...overrides,
  };
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Resolves when billing's durable has nothing left to deliver and nothing
 * unacknowledged: no redelivery can book anything after this.
 */
export async function waitBillingConsumerIdle(jsm: JetStreamManager, timeoutMs = 20_000): Promise<void> {
  await waitFor(
    'the billing consumer to ack everything',
    async () => {
      const ci = await jsm.consumers.info(USAGE_STREAM, BILLING_CONSUMER);
      return ci.num_pending === 0 && ci.num_ack_pending === 0;
    },
    timeoutMs,
  );
}

export async function ledgerCount(db: Kysely<DB>, where: { account_id?: string; kind?: string; request_ids?: string[] } = {}): Promise<number> {
  let q = db.selectFrom('ledger').select((eb) => eb.fn.countAll<string>().as('n'));
  if (where.account_id) q = q.where('account_id', '=', where.account_id);
  if (where.kind) q = q.where('kind', '=', where.kind as 'usage');
  if (where.request_ids) q = q.where('request_id', 'in', where.request_ids);
  return Number((await q.executeTakeFirstOrThrow()).n);
}

export async function balanceNano(db: Kysely<DB>, accountId: string): Promise<bigint> {
  const row = await db.selectFrom('balances').select('balance_nano').where('account_id', '=', accountId).executeTakeFirstOrThrow();
  return BigInt(row.balance_nano);
}

/** Compiles the billing service (and the libraries it references) to services/billing/dist. */
export function buildBilling(): void {
  execFileSync('npx', ['tsc', '-b', 'services/billing'], { cwd: ROOT, stdio: 'inherit' });
}

/** Dead letters whose original Nats-Msg-Id is one of `requestIds`, with their reason header. */
export async function deadLetters(jsm: JetStreamManager, requestIds: string[]): Promise<Map<string, string>> {
  const wanted = new Set(requestIds.map((id) => `dlq-${id}`));
  const found = new Map<string, string>();
  const { state } = await jsm.streams.info(USAGE_DLQ_STREAM);
  for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(USAGE_DLQ_STREAM, { seq }).catch(() => null);
    const id = m?.header?.get('Nats-Msg-Id');
    if (m && id && wanted.has(id)) found.set(id.slice(4), m.header.get(DLQ_REASON_HEADER));
  }
  return found;
}

export interface BillingProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
}

/** Runs the built service (dist/main.js) as a child process; resolves once it listens. */
export async function spawnBilling(env: Record<string, string> = {}): Promise<BillingProcess> {
  const child = spawn(process.execPath, [resolve(ROOT, 'services/billing/dist/main.js')], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL, NATS_URL, BILLING_PORT: '0', BILLING_HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const url = await waitFor(
    'billing to listen',
    async () => {
      if (child.exitCode !== null) throw new Error(`billing exited with ${child.exitCode}: ${out}`);
      const line = out.split('\n').find((l) => l.includes('"msg":"listening"'));
      return line ? (JSON.parse(line) as { url: string }).url : undefined;
    },
    30_000,
  );
  return { child, url, output: () => out };
}

export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
}
