import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import type { NatsConnection } from '@nats-io/transport-node';
import { CATALOG_CHANGED_SUBJECT } from '@switchyard/contracts';
import type { DB } from '../../services/billing/src/db/database';
import {
  AdminInputError,
  createAccount,
  createChannel,
  createKey,
  ledger,
  revokeKey,
  setPrice,
  showAccount,
  topup,
  type AdminDeps,
} from '../../services/billing/src/admin.commands';
import { LazyNatsNotifier } from '../../services/billing/src/admin.notifier';
import { runAdmin, EXIT_BAD_INPUT, EXIT_OK } from '../../services/billing/src/admin.program';
import { hashApiKey } from '../../services/billing/src/keys/api-key';
import { findCurrentPrice } from '../../services/billing/src/channels/channels.repository';
import { DATABASE_URL, NATS_URL, ROOT, adminDeps, buildBilling, connectTestNats, freshBillingDb } from '../support/billing';

const run = promisify(execFile);

/** Everything billing stores, to prove that a refused command wrote nothing. */
async function snapshot(db: Kysely<DB>): Promise<string> {
  const tables = ['accounts', 'balances', 'api_keys', 'channels', 'channel_models', 'prices', 'ledger'] as const;
  const out: Record<string, unknown> = {};
  for (const t of tables) out[t] = await db.selectFrom(t).selectAll().execute();
  return JSON.stringify(out);
}

describe('admin commands', () => {
  let db: Kysely<DB>;
  let nc: NatsConnection;
  let deps: AdminDeps;

  beforeAll(async () => {
    nc = await connectTestNats();
  });
  beforeEach(async () => {
    await db?.destroy();
    db = await freshBillingDb();
    deps = adminDeps(db, nc);
  });
  afterAll(async () => {
    await db?.destroy();
    await nc?.drain();
  });

  it('create an account, a key, a channel and its price', async () => {
    const acct = await createAccount(deps, { id: 'acme', name: 'Acme Inc', balance_usd: '100.00' });
    expect(acct).toMatchObject({ account_id: 'acme', name: 'Acme Inc', created: true, balance_nano: 100_000_000_000n, balance_usd: '100.00' });
    // The opening balance is in the books.
    expect((await ledger(deps, { request_id: 'opening:acme' })).entries[0]).toMatchObject({ kind: 'topup', amount_nano: 100_000_000_000n, balance_after_nano: 100_000_000_000n });

    const key = await createKey(deps, { account: 'acme', name: 'ci', models: 'gpt-4o*,*' });
    expect(key.key).toMatch(/^sk-sy-[0-9A-Za-z]{40}$/);
    expect(key).toMatchObject({ account_id: 'acme', name: 'ci', models: ['gpt-4o*', '*'], key_prefix: key.key!.slice(0, 12), created: true });
    expect((await db.selectFrom('api_keys').select('key_hash').executeTakeFirstOrThrow()).key_hash).toBe(hashApiKey(key.key!));

    const changed = nc.subscribe(CATALOG_CHANGED_SUBJECT, { max: 2 });
    const ch = await createChannel(deps, {
      id: 'fast',
      provider: 'openai',
      base_url: 'http://127.0.0.1:9001/v1',
      api_key: 'sk-upstream',
      priority: '1',
      models: ['gpt-4o-mini', 'gpt-4o=gpt-4o-2024-08-06'],
    });
    expect(ch).toMatchObject({ id: 'fast', created: true, priority: 1, weight: 1, enabled: true, has_credential: true, notice: { sent: true } });
    expect(ch.models).toEqual([
      { model: 'gpt-4o-mini', upstream_model: 'gpt-4o-mini', priced: false },
      { model: 'gpt-4o', upstream_model: 'gpt-4o-2024-08-06', priced: false },
    ]);
    expect(JSON.stringify(ch)).not.toContain('sk-upstream');

    const price = await setPrice(deps, {
      channel: 'fast',
      model: 'gpt-4o-mini',
      input_usd_per_mtok: '0.15',
      output_usd_per_mtok: '0.60',
      cached_input_usd_per_mtok: '0.075',
    });
    expect(price).toMatchObject({ input_nano_per_mtok: 150_000_000n, output_nano_per_mtok: 600_000_000n, cached_input_nano_per_mtok: 75_000_000n, notice: { sent: true } });
    expect(await findCurrentPrice(db, 'fast', 'gpt-4o-mini')).toMatchObject({ input_nano_per_mtok: 150_000_000n });

    const notices: unknown[] = [];
    for await (const m of changed) notices.push(m.json());
    expect(notices).toEqual([
      { channel_id: 'fast', reason: 'channel' },
      { channel_id: 'fast', reason: 'price' },
    ]);
  });

  it('are idempotent where a re-run is expected', async () => {
    await createAccount(deps, { id: 'acme', balance_usd: '10' });
    const again = await createAccount(deps, { id: 'acme', name: 'Other', balance_usd: '99' });
    expect(again).toMatchObject({ created: false, name: 'acme', balance_nano: 10_000_000_000n });

    const ch = { id: 'fast', provider: 'openai', base_url: 'http://127.0.0.1:9001/v1', models: ['a', 'b'] };
    await createChannel(deps, ch);
    const updated = await createChannel(deps, { ...ch, base_url: 'http://127.0.0.1:9002/v1', weight: '5', models: ['b=b-2', 'c'] });
    expect(updated).toMatchObject({ created: false, base_url: 'http://127.0.0.1:9002/v1', weight: 5 });
    expect(await db.selectFrom('channel_models').select(['model', 'upstream_model']).orderBy('model').execute()).toEqual([
      { model: 'b', upstream_model: 'b-2' },
      { model: 'c', upstream_model: 'c' },
    ]);

    const t1 = await topup(deps, { account: 'acme', usd: '2.5', request_id: 'stripe-pi-1' });
    const t2 = await topup(deps, { account: 'acme', usd: '2.5', request_id: 'stripe-pi-1' });
    expect(t1).toMatchObject({ applied: true, balance_nano: 12_500_000_000n });
    expect(t2).toMatchObject({ applied: false, balance_nano: 12_500_000_000n });

    const fixed = 'sk-fixed-material-0123456789abcdef';
    const k1 = await createKey(deps, { account: 'acme', name: 'fixed', key: fixed });
    const k2 = await createKey(deps, { account: 'acme', name: 'fixed', key: fixed });
    expect(k2).toMatchObject({ id: k1.id, created: false, key: null });
  });

  it('top up and revoke, and show the account', async () => {
    await createAccount(deps, { id: 'acme' });
    const t = await topup(deps, { account: 'acme', usd: '10' });
    expect(t).toMatchObject({ applied: true, amount_nano: 10_000_000_000n, balance_usd: '10.00' });
    const key = await createKey(deps, { account: 'acme', name: 'ci' });
    const r = await revokeKey(deps, { id: key.id });
    expect(r).toMatchObject({ already_revoked: false, notice: { sent: true } });
    expect(await revokeKey(deps, { id: key.id })).toMatchObject({ already_revoked: true, revoked_at: r.revoked_at });
    const shown = await showAccount(deps, { id: 'acme' });
    expect(shown).toMatchObject({ balance_nano: 10_000_000_000n, balance_usd: '10.00' });
    expect(shown.keys).toEqual([expect.objectContaining({ id: key.id, revoked_at: r.revoked_at })]);
    expect((await ledger(deps, { account: 'acme' })).entries.map((e) => e.request_id)).toEqual([t.request_id]);
  });

  it('still succeed when NATS is down, and say the notice was not sent', async () => {
    const offline = new LazyNatsNotifier('nats://127.0.0.1:1', 500);
    const d = { db, notifier: offline };
    await createAccount(d, { id: 'acme' });
    const key = await createKey(d, { account: 'acme', name: 'ci' });
    const ch = await createChannel(d, { id: 'fast', provider: 'gemini', base_url: 'https://generativelanguage.googleapis.com', models: ['gemini-2.5-flash'] });
    const r = await revokeKey(d, { id: key.id });
    await offline.close();
    expect(ch.notice).toMatchObject({ sent: false, reason: expect.stringMatching(/NATS unreachable/) });
    expect(r.notice.sent).toBe(false);
    expect((await db.selectFrom('api_keys').select('revoked_at').executeTakeFirstOrThrow()).revoked_at).not.toBeNull();
  });

  describe('refuse bad input and write nothing', () => {
    beforeEach(async () => {
      await createAccount(deps, { id: 'acme', balance_usd: '1' });
      await createChannel(deps, { id: 'fast', provider: 'openai', base_url: 'http://127.0.0.1:9001/v1', api_key: 'sk-upstream', models: ['gpt-4o-mini'] });
    });

    const price = { channel: 'fast', model: 'gpt-4o-mini', input_usd_per_mtok: '0.15', output_usd_per_mtok: '0.60' };
    const cases: Array<[string, (d: AdminDeps) => Promise<unknown>, RegExp]> = [
      ['a negative price', (d) => setPrice(d, { ...price, input_usd_per_mtok: '-0.15' }), /--input-usd-per-mtok.*non-negative/],
      ['a price with 10 decimals', (d) => setPrice(d, { ...price, output_usd_per_mtok: '0.1234567891' }), /at most 9 decimals/],
      ['a price in exponent notation', (d) => setPrice(d, { ...price, cached_input_usd_per_mtok: '1e-3' }), /cached-input/],
      ['a price for an unknown channel', (d) => setPrice(d, { ...price, channel: 'nope' }), /unknown channel "nope"/],
      ['a price for a model the channel does not serve', (d) => setPrice(d, { ...price, model: 'gpt-5' }), /does not serve model "gpt-5"/],
      ['a price without an output price', (d) => setPrice(d, { ...price, output_usd_per_mtok: undefined }), /--output-usd-per-mtok is required/],
      ['a key for an unknown account', (d) => createKey(d, { account: 'nope', name: 'ci' }), /unknown account "nope"/],
      ['a key without a name', (d) => createKey(d, { account: 'acme' }), /--name is required/],
      ['a key with a bad model glob', (d) => createKey(d, { account: 'acme', name: 'ci', models: 'gpt 4o' }), /--models/],
      ['a key that is too short', (d) => createKey(d, { account: 'acme', name: 'ci', key: 'sk-short' }), /at least 20/],
      ['a top-up of an unknown account', (d) => topup(d, { account: 'nope', usd: '10' }), /unknown account/],
      ['a top-up of 0', (d) => topup(d, { account: 'acme', usd: '0' }), /greater than 0/],
      ['a top-up with 10 decimals', (d) => topup(d, { account: 'acme', usd: '1.0000000001' }), /at most 9 decimals/],
      ['a top-up that overflows the balance', (d) => topup(d, { account: 'acme', usd: '9223372036' }), /out of range/],
      ['an account with a negative balance', (d) => createAccount(d, { id: 'neg', balance_usd: '-5' }), /--balance-usd/],
      ['an account with a bad id', (d) => createAccount(d, { id: 'has space' }), /--id must be/],
      ['a channel with an unknown provider', (d) => createChannel(d, { id: 'x', provider: 'cohere', base_url: 'http://h', models: ['m'] }), /--provider must be one of/],
      ['a channel with a non-http base URL', (d) => createChannel(d, { id: 'x', provider: 'openai', base_url: 'ftp://h', models: ['m'] }), /--base-url/],
      ['a channel without models', (d) => createChannel(d, { id: 'x', provider: 'openai', base_url: 'http://h' }), /--model is required/],
      ['a channel with a negative weight', (d) => createChannel(d, { id: 'x', provider: 'openai', base_url: 'http://h', weight: '-1', models: ['m'] }), /--weight/],
      ['a channel with a model twice', (d) => createChannel(d, { id: 'x', provider: 'openai', base_url: 'http://h', models: ['m', 'm=n'] }), /given twice/],
      ['revoking an unknown key', (d) => revokeKey(d, { id: 'key_nope' }), /unknown key/],
    ];

    it.each(cases)('%s', async (_name, command, message) => {
      const before = await snapshot(db);
      const err = await command(deps).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(AdminInputError);
      expect((err as Error).message).toMatch(message);
      expect(await snapshot(db)).toBe(before);
    });
  });
});

describe('admin CLI', () => {
  let db: Kysely<DB>;
  let nc: NatsConnection;

  beforeAll(async () => {
    buildBilling();
    db = await freshBillingDb();
    nc = await connectTestNats();
  });
  afterAll(async () => {
    await db?.destroy();
    await nc?.drain();
  });

  const cli = async (...args: string[]) => {
    try {
      const r = await run(process.execPath, [resolve(ROOT, 'services/billing/dist/admin.cli.js'), ...args], {
        cwd: ROOT,
        env: { ...process.env, DATABASE_URL, NATS_URL },
      });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const err = e as { code: number; stdout: string; stderr: string };
      return { code: err.code, stdout: err.stdout, stderr: err.stderr };
    }
  };

  it('migrates, creates and prints a key once, in text and JSON', async () => {
    expect(await cli('migrate')).toMatchObject({ code: 0, stdout: 'schema up to date: no migrations pending\n' });
    expect(await cli('create-account', '--id', 'acme', '--balance-usd', '100.00')).toMatchObject({
      code: 0,
      stdout: 'created account acme ("acme") with balance 100.00 USD (100000000000 nano)\n',
    });
    const text = await cli('create-key', '--account', 'acme', '--name', 'ci');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^created key key_\w+ for account acme \(name ci, prefix sk-sy-\w{6}, models \*\)\nkey: sk-sy-\w{40}\n/);
    const json = await cli('create-key', '--account', 'acme', '--name', 'ci2', '--models', 'gpt-4o*', '--json');
    expect(JSON.parse(json.stdout)).toMatchObject({ account_id: 'acme', name: 'ci2', models: ['gpt-4o*'], key: expect.stringMatching(/^sk-sy-/) });
    const shown = await cli('show-account', '--id', 'acme', '--json');
    expect(JSON.parse(shown.stdout)).toMatchObject({ balance_nano: '100000000000', balance_usd: '100.00' });
  });

  it('never prints a channel credential', async () => {
    const r = await cli('create-channel', '--id', 'fast', '--provider', 'openai', '--base-url', 'http://127.0.0.1:9001/v1', '--api-key', 'sk-upstream-secret-123', '--model', 'gpt-4o-mini');
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).not.toContain('sk-upstream-secret-123');
    expect(r.stdout).toContain('credential set');
    expect(r.stderr).toContain('has no price yet');
  });

  it('exits 2 with a message on stderr for bad input', async () => {
    const bad = await cli('set-price', '--channel', 'fast', '--model', 'gpt-4o-mini', '--input-usd-per-mtok=-1', '--output-usd-per-mtok', '1');
    expect(bad).toMatchObject({ code: 2, stdout: '' });
    expect(bad.stderr).toMatch(/^error: --input-usd-per-mtok must be a non-negative/);
    expect((await cli('topup', '--account', 'nobody', '--usd', '1')).code).toBe(2);
    expect((await cli('create-key', '--account', 'acme')).stderr).toMatch(/--name is required/);
    expect((await cli('frobnicate')).code).toBe(2);
    expect((await cli('topup', '--account', 'acme', '--usd', '1', '--typo')).stderr).toMatch(/Unknown option '--typo'/);
    expect((await cli()).code).toBe(2);
  });

  it('parses arguments the same way in process', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { stdout: (l: string) => out.push(l), stderr: (l: string) => err.push(l) };
    const deps = adminDeps(db, nc);
    expect(await runAdmin(['topup', '--account', 'acme', '--usd', '0.000000001', '--request-id', 'tiny'], deps, io)).toBe(EXIT_OK);
    expect(out.pop()).toBe('topped up acme by 0.000000001 USD (request tiny); balance 100.000000001 USD (100000000001 nano)');
    expect(await runAdmin(['ledger', '--request-id', 'tiny', '--json'], deps, io)).toBe(EXIT_OK);
    expect(JSON.parse(out.pop()!).entries[0]).toMatchObject({ request_id: 'tiny', amount_nano: '1', balance_after_nano: '100000000001' });
    expect(await runAdmin(['create-channel', '--id', 'x', '--provider', 'openai', '--base-url', 'http://h'], deps, io)).toBe(EXIT_BAD_INPUT);
    expect(err.pop()).toBe('error: --model is required (repeat it for each model)');
  });
});
