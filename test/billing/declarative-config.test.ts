import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import {
  CATALOG_CHANGED_SUBJECT,
  CATALOG_SUBJECT,
  KEY_CHANGED_SUBJECT,
  KEY_RESOLVE_SUBJECT,
  catalogReplySchema,
  keyResolveReplySchema,
} from '@switchyard/contracts';
import type { DB } from '../../services/billing/src/db/database';
import { createAccount, createKey, topup, type AdminDeps } from '../../services/billing/src/admin.commands';
import { runAdmin, EXIT_BAD_INPUT, EXIT_OK } from '../../services/billing/src/admin.program';
import { applyConfigFile } from '../../services/billing/src/config/apply-config';
import { ConfigError } from '../../services/billing/src/config/declarative-config';
import { hashApiKey } from '../../services/billing/src/keys/api-key';
import { compareAndSetRefreshToken } from '../../services/billing/src/channels/channels.repository';
import { readOAuthCredential, refreshTokenSha256 } from '../../services/billing/src/channels/channel-credential';
import { decryptCredential, parseCredentialKey } from '../../services/billing/src/crypto/credential-cipher';
import { DATABASE_URL, NATS_URL, ROOT, TEST_ADMIN_TOKEN, adminDeps, balanceNano, buildBilling, connectTestNats, exited, freshBillingDb, ledgerCount, resetUsageStreams, spawnBilling } from '../support/billing';

const ACME_KEY = 'sk-sy-declared-acme-0123456789abcdef';
const FAST_KEY = 'sk-upstream-fast-never-logged-0001';
const ENV = { ACME_KEY, FAST_KEY };

const FILE = `
accounts:
  - id: acme
    name: Acme Inc
    balance_usd: "100.00"
groups:
  - id: resellers
    price_multiplier: "1.25"
keys:
  - account: acme
    name: ci
    key: \${ACME_KEY}
    models: ["gpt-4o*"]
    group: resellers
    route: { mode: smart, preset: performance }
    limits: { rpm: 600, tpm: 200000, budget_usd_per_day: "20.00" }
  - account: acme
    name: generated
channels:
  - id: fast-openai
    provider: openai
    base_url: http://127.0.0.1:9001/v1
    api_key: \${FAST_KEY}
    priority: 1
    weight: 2
    models:
      - id: gpt-4o-mini
        upstream: gpt-4o-mini-2024-07-18
        price_usd_per_mtok: { input: "0.15", output: "0.60", cached_input: "0.075" }
`;

const dir = mkdtempSync(join(tmpdir(), 'switchyard-config-'));
let n = 0;
/** Writes a config file and returns its path. */
function file(text: string): string {
  const p = join(dir, `switchyard-${++n}.yaml`);
  writeFileSync(p, text);
  return p;
}

/** Row counts of everything billing stores. */
async function counts(db: Kysely<DB>): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of ['accounts', 'balances', 'api_keys', 'groups', 'channels', 'channel_models', 'prices', 'ledger'] as const) {
    out[t] = Number((await db.selectFrom(t).select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);
  }
  return out;
}

/** Everything billing stores except the encrypted credential (random IV), to prove a re-apply wrote nothing. */
async function snapshot(db: Kysely<DB>): Promise<string> {
  const out: Record<string, unknown> = {};
  for (const t of ['accounts', 'balances', 'api_keys', 'groups', 'channel_models', 'prices', 'ledger'] as const) out[t] = await db.selectFrom(t).selectAll().execute();
  out.channels = await db.selectFrom('channels').select(['id', 'provider', 'base_url', 'priority', 'weight', 'enabled', 'credential']).execute();
  return JSON.stringify(out);
}

/** Collects messages on a subject until read. */
function collect(nc: NatsConnection, subject: string): { sub: Subscription; seen: () => Promise<unknown[]> } {
  const got: unknown[] = [];
  const sub = nc.subscribe(subject);
  void (async () => {
    for await (const m of sub) got.push(m.json());
  })();
  return { sub, seen: async () => (await nc.flush(), await new Promise((r) => setTimeout(r, 200)), [...got]) };
}

describe('declarative configuration (apply)', () => {
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

  it('creates accounts, groups, keys, channels and prices, and tells ingress and the router', async () => {
    const catalog = collect(nc, CATALOG_CHANGED_SUBJECT);
    const r = await applyConfigFile(deps, file(FILE), ENV);
    expect(r.changes.map((c) => `${c.action} ${c.kind} ${c.id}`)).toEqual([
      'created group resellers',
      'created account acme',
      'created channel fast-openai',
      'created price fast-openai/gpt-4o-mini',
      'created key acme/ci',
      'created key acme/generated',
    ]);
    expect(await balanceNano(db, 'acme')).toBe(100_000_000_000n);
    expect(await ledgerCount(db, { account_id: 'acme', kind: 'topup' })).toBe(1);

    const ci = await db.selectFrom('api_keys').selectAll().where('name', '=', 'ci').executeTakeFirstOrThrow();
    expect(ci).toMatchObject({ key_hash: hashApiKey(ACME_KEY), models: ['gpt-4o*'], group_id: 'resellers', rpm: 600, tpm: 200000, budget_nano_per_day: '20000000000', route_mode: 'smart', route_preset: 'performance' });
    // The generated key is shown once, and only its hash is stored.
    expect(r.generated_keys).toHaveLength(1);
    const gen = r.generated_keys[0]!;
    expect(gen.key).toMatch(/^sk-sy-[0-9A-Za-z]{40}$/);
    expect((await db.selectFrom('api_keys').select('key_hash').where('id', '=', gen.key_id).executeTakeFirstOrThrow()).key_hash).toBe(hashApiKey(gen.key));

    const ch = await db.selectFrom('channels').selectAll().executeTakeFirstOrThrow();
    expect(ch).toMatchObject({ id: 'fast-openai', provider: 'openai', priority: 1, weight: 2, enabled: true });
    expect(ch.credential).toMatch(/^enc:v1:/);
    expect(ch.credential).not.toContain(FAST_KEY);
    expect(await db.selectFrom('channel_models').select(['model', 'upstream_model']).execute()).toEqual([{ model: 'gpt-4o-mini', upstream_model: 'gpt-4o-mini-2024-07-18' }]);
    expect(await db.selectFrom('prices').select(['input_nano_per_mtok', 'output_nano_per_mtok', 'cached_input_nano_per_mtok']).execute()).toEqual([
      { input_nano_per_mtok: '150000000', output_nano_per_mtok: '600000000', cached_input_nano_per_mtok: '75000000' },
    ]);
    expect(r.notices).toEqual([{ subject: CATALOG_CHANGED_SUBJECT, sent: true }]);
    expect(await catalog.seen()).toEqual([{ channel_id: 'fast-openai', reason: 'channel' }]);
    catalog.sub.unsubscribe();
    expect(JSON.stringify(r)).not.toContain(FAST_KEY);
  });

  it('applying the same file again changes nothing: no top-up, no price row, no key, no notice', async () => {
    const f = file(FILE);
    await applyConfigFile(deps, f, ENV);
    const before = await snapshot(db);
    const notices = [collect(nc, CATALOG_CHANGED_SUBJECT), collect(nc, KEY_CHANGED_SUBJECT)];
    const again = await applyConfigFile(deps, f, ENV);
    expect(again.changes.every((c) => c.action === 'unchanged')).toBe(true);
    expect(again.generated_keys).toEqual([]);
    expect(again.notices).toEqual([]);
    expect(await snapshot(db)).toBe(before);
    for (const x of notices) {
      expect(await x.seen()).toEqual([]);
      x.sub.unsubscribe();
    }
  });

  it('two applies at once (billing replicas starting together) create everything once', async () => {
    const f = file(FILE);
    const results = await Promise.all([applyConfigFile(deps, f, ENV), applyConfigFile(adminDeps(db, nc), f, ENV)]);
    expect(results.flatMap((r) => r.generated_keys)).toHaveLength(1);
    expect(await counts(db)).toMatchObject({ accounts: 1, api_keys: 2, prices: 1, ledger: 1 });
  });

  it('a changed price adds one price row and keeps the history; the router is told', async () => {
    await applyConfigFile(deps, file(FILE), ENV);
    const catalog = collect(nc, CATALOG_CHANGED_SUBJECT);
    const r = await applyConfigFile(deps, file(FILE.replace('output: "0.60"', 'output: "0.65"')), ENV);
    expect(r.changes.filter((c) => c.action !== 'unchanged').map((c) => `${c.action} ${c.kind} ${c.id}`)).toEqual(['updated price fast-openai/gpt-4o-mini']);
    const prices = await db.selectFrom('prices').select(['output_nano_per_mtok']).orderBy('id').execute();
    expect(prices).toEqual([{ output_nano_per_mtok: '600000000' }, { output_nano_per_mtok: '650000000' }]);
    expect(await catalog.seen()).toEqual([{ channel_id: 'fast-openai', reason: 'price' }]);
    catalog.sub.unsubscribe();
    // And once more: still two rows.
    await applyConfigFile(deps, file(FILE.replace('output: "0.60"', 'output: "0.65"')), ENV);
    expect(await counts(db)).toMatchObject({ prices: 2 });
  });

  it('balance_usd is the opening balance only: an existing account keeps its books, and the operator is told', async () => {
    await createAccount(deps, { id: 'acme', balance_usd: '5.00' });
    await topup(deps, { account: 'acme', usd: '1.00', request_id: 'pay-1' });
    const r = await applyConfigFile(deps, file(FILE), ENV);
    expect(await balanceNano(db, 'acme')).toBe(6_000_000_000n);
    expect(await ledgerCount(db, { account_id: 'acme' })).toBe(2);
    expect(r.changes.find((c) => c.kind === 'account')).toMatchObject({ action: 'updated', detail: 'name' });
    expect(r.notes).toContain('accounts[0].balance_usd: account "acme" exists; balance_usd is its opening balance only, so its balance stays 6.00 USD (credit it with a top-up)');
  });

  it('new key material in the file rotates the key: the old key stops working (ingress is told), limits stay', async () => {
    await applyConfigFile(deps, file(FILE), ENV);
    const before = await db.selectFrom('api_keys').selectAll().where('name', '=', 'ci').executeTakeFirstOrThrow();
    const changed = collect(nc, KEY_CHANGED_SUBJECT);
    const NEW_KEY = 'sk-sy-declared-acme-rotated-987654321';
    const r = await applyConfigFile(deps, file(FILE), { ...ENV, ACME_KEY: NEW_KEY });
    expect(r.changes.find((c) => c.id === 'acme/ci')).toMatchObject({ action: 'rotated' });
    const after = await db.selectFrom('api_keys').selectAll().where('id', '=', before.id).executeTakeFirstOrThrow();
    expect(after.key_hash).toBe(hashApiKey(NEW_KEY));
    expect(after.rotated_at).not.toBeNull();
    expect(after).toMatchObject({ rpm: 600, group_id: 'resellers' });
    expect(await changed.seen()).toEqual([{ key_hash: hashApiKey(ACME_KEY), key_id: before.id }]);
    changed.sub.unsubscribe();
    // The generated key was not regenerated.
    expect(r.generated_keys).toEqual([]);
    expect(await db.selectFrom('api_keys').select('id').execute()).toHaveLength(2);
  });

  it('adopts a key made with the admin API by (account, name) without touching its material; two such keys are refused', async () => {
    const text = 'accounts: [{ id: acme }]\nkeys:\n  - { account: acme, name: ops, models: ["gpt-4o*"] }\n';
    await createAccount(deps, { id: 'acme' });
    const made = await createKey(deps, { account: 'acme', name: 'ops' });
    const r = await applyConfigFile(deps, file(text), {});
    expect(r.changes.find((c) => c.kind === 'key')).toMatchObject({ id: 'acme/ops', action: 'updated', detail: `${made.id}, models` });
    expect(r.generated_keys).toEqual([]);
    expect((await db.selectFrom('api_keys').select('key_hash').where('id', '=', made.id).executeTakeFirstOrThrow()).key_hash).toBe(hashApiKey(made.key!));

    await createKey(deps, { account: 'acme', name: 'ops' });
    const before = await snapshot(db);
    const f = file(text.replace('gpt-4o*', '*'));
    const err = (await applyConfigFile(deps, f, {}).catch((e: ConfigError) => e)) as ConfigError;
    expect(err.message).toContain(`invalid ${f}: keys[0].name: account "acme" has 2 active keys named "ops"`);
    expect(await snapshot(db)).toBe(before);
  });

  it('a bad file is refused with the YAML path of every problem, and nothing is written', async () => {
    await applyConfigFile(deps, file(FILE), ENV);
    const before = await snapshot(db);
    const bad = file(
      FILE.replace('output: "0.60"', 'output: 0.60')
        .replace('provider: openai', 'provider: bedrock')
        .replace('  - account: acme\n    name: generated', '  - account: nobody\n    name: generated'),
    );
    await expect(applyConfigFile(deps, bad, ENV)).rejects.toThrow(ConfigError);
    const err = (await applyConfigFile(deps, bad, ENV).catch((e: ConfigError) => e)) as ConfigError;
    expect(err.issues.map((i) => i.path)).toEqual(['channels[0].provider', 'channels[0].models[0].price_usd_per_mtok.output']);
    expect(await snapshot(db)).toBe(before);

    // Shape right, reference wrong: found in the database check, still nothing written (one transaction).
    const unknownAccount = file(FILE.replace('output: "0.60"', 'output: "0.70"').replace('  - account: acme\n    name: generated', '  - account: nobody\n    name: generated'));
    const err2 = (await applyConfigFile(deps, unknownAccount, ENV).catch((e: ConfigError) => e)) as ConfigError;
    expect(err2.issues).toEqual([{ path: 'keys[1].account', message: 'unknown account "nobody" (declare it under accounts, or create it with the admin API)' }]);
    expect(await snapshot(db)).toBe(before);
  });

  it("a key's routing control (channels, order, price ceilings, fallbacks, mid-stream failover) applies, re-applies as a no-op, and refuses unknown channels", async () => {
    const routed = FILE.replace(
      'route: { mode: smart, preset: performance }',
      'route: { mode: fallback, channels: [fast-openai], order: [fast-openai], max_input_usd_per_mtok: "1.00", max_output_usd_per_mtok: "4.00", fallbacks: false, midstream_failover: true }',
    );
    const f = file(routed);
    await applyConfigFile(deps, f, ENV);
    const ci = await db.selectFrom('api_keys').selectAll().where('name', '=', 'ci').executeTakeFirstOrThrow();
    expect(ci).toMatchObject({
      route_mode: 'fallback',
      route_allowed_channels: ['fast-openai'],
      route_order: ['fast-openai'],
      route_max_input_nano_per_mtok: '1000000000',
      route_max_output_nano_per_mtok: '4000000000',
      route_allow_fallbacks: false,
      route_midstream_failover: true,
    });
    const before = await snapshot(db);
    const again = await applyConfigFile(deps, f, ENV);
    expect(again.changes.every((c) => c.action === 'unchanged')).toBe(true);
    expect(await snapshot(db)).toBe(before);

    const unknown = file(routed.replace('channels: [fast-openai], order: [fast-openai]', 'channels: [fast-openai], order: [slow-one]'));
    const err = (await applyConfigFile(deps, unknown, ENV).catch((e: ConfigError) => e)) as ConfigError;
    expect(err.issues.map((i) => i.path)).toEqual(['keys[0].route.order', 'keys[0].route.order']);
    expect(err.issues[0]!.message).toContain('unknown channel "slow-one"');
    expect(await snapshot(db)).toBe(before);
  });

  it('declares an Azure channel (api_version) and an OAuth channel (grant stored encrypted, never echoed); re-apply is a no-op', async () => {
    const env = { ...ENV, OAUTH_SECRET: 'cs-never-shown-0001', OAUTH_REFRESH: 'rt-never-shown-0001' };
    const text = `${FILE}
  - id: azure-east
    provider: azure-openai
    base_url: https://east.openai.azure.com
    api_key: \${FAST_KEY}
    api_version: "2024-10-21"
    models: [{ id: gpt-4o-mini, upstream: my-deployment, price_usd_per_mtok: { input: "0.15", output: "0.60" } }]
  - id: oauth-host
    provider: openai-compatible
    base_url: https://llm.example.com/v1
    oauth: { client_id: switchyard, client_secret: "\${OAUTH_SECRET}", token_url: https://auth.example.com/token, refresh_token: "\${OAUTH_REFRESH}" }
    models: [{ id: gpt-4o-mini, price_usd_per_mtok: { input: "0.10", output: "0.40" } }]
`;
    const f = file(text);
    const r = await applyConfigFile(deps, f, env);
    expect(JSON.stringify(r)).not.toContain('never-shown');
    const azure = await db.selectFrom('channels').selectAll().where('id', '=', 'azure-east').executeTakeFirstOrThrow();
    expect(azure).toMatchObject({ provider: 'azure-openai', settings: { api_version: '2024-10-21' }, credential_type: 'api_key' });
    const oauth = await db.selectFrom('channels').selectAll().where('id', '=', 'oauth-host').executeTakeFirstOrThrow();
    expect(oauth.credential_type).toBe('oauth');
    expect(oauth.credential).toMatch(/^enc:v1:/);
    expect(oauth.credential).not.toContain('never-shown');
    const before = await snapshot(db);
    const again = await applyConfigFile(deps, f, env);
    expect(again.changes.every((c) => c.action === 'unchanged')).toBe(true);
    expect(await snapshot(db)).toBe(before);

    const noVersion = (await applyConfigFile(deps, file(text.replace('    api_version: "2024-10-21"\n', '')), env).catch((e: ConfigError) => e)) as ConfigError;
    expect(noVersion.issues.map((i) => i.path)).toEqual(['channels[1].api_version']);
    expect(await snapshot(db)).toBe(before);
  });

  it('a re-apply after the provider rotated the refresh token keeps the rotated one; naming a new refresh token replaces it', async () => {
    const env = { ...ENV, OAUTH_SECRET: 'cs-never-shown-0002', OAUTH_REFRESH: 'rt-declared-0002' };
    const text = `${FILE}
  - id: oauth-rot
    provider: openai-compatible
    base_url: https://llm.example.com/v1
    oauth: { client_id: switchyard, client_secret: "\${OAUTH_SECRET}", token_url: https://auth.example.com/token, refresh_token: "\${OAUTH_REFRESH}" }
    models: [{ id: gpt-4o-mini, price_usd_per_mtok: { input: "0.10", output: "0.40" } }]
`;
    await applyConfigFile(deps, file(text), env);
    const key = parseCredentialKey(process.env.SWITCHYARD_CREDENTIAL_KEY);
    expect(await compareAndSetRefreshToken(db, 'oauth-rot', refreshTokenSha256('rt-declared-0002'), 'rt-rotated-0003', key)).toBe('stored');
    const storedToken = async () => {
      const row = await db.selectFrom('channels').select('credential').where('id', '=', 'oauth-rot').executeTakeFirstOrThrow();
      return readOAuthCredential(decryptCredential(row.credential!, key))!.refresh_token;
    };
    const again = await applyConfigFile(deps, file(text), env);
    expect(again.changes.find((c) => c.id === 'oauth-rot')).toMatchObject({ action: 'unchanged' });
    expect(await storedToken()).toBe('rt-rotated-0003');
    const regranted = await applyConfigFile(deps, file(text), { ...env, OAUTH_REFRESH: 'rt-regranted-0004' });
    expect(regranted.changes.find((c) => c.id === 'oauth-rot')).toMatchObject({ action: 'updated' });
    expect(await storedToken()).toBe('rt-regranted-0004');
  });

  it('a missing ${VAR} is an error naming it, and nothing is written', async () => {
    const before = await counts(db);
    const err = (await applyConfigFile(deps, file(FILE), { ACME_KEY }).catch((e: ConfigError) => e)) as ConfigError;
    expect(err.issues).toEqual([{ path: 'channels[0].api_key', message: 'environment variable FAST_KEY is not set' }]);
    expect(await counts(db)).toEqual(before);
  });

  it("npm start's deploy/local/switchyard.yaml applies, and a restart's second apply adds nothing", async () => {
    const env = { SWITCHYARD_DEMO_KEY: 'sk-sy-demo-0123456789abcdef0123', DEMO_CHANNEL: 'demo-fake', DEMO_UPSTREAM_URL: 'http://127.0.0.1:9001/v1', DEMO_UPSTREAM_KEY: 'fake-provider-key' };
    const local = resolve(ROOT, 'deploy/local/switchyard.yaml');
    await applyConfigFile(deps, local, env);
    expect(await counts(db)).toEqual({ accounts: 1, balances: 1, api_keys: 1, groups: 0, channels: 1, channel_models: 1, prices: 1, ledger: 1 });
    const before = await snapshot(db);
    await applyConfigFile(deps, local, env);
    expect(await snapshot(db)).toBe(before);
  });

  it('npm run admin -- apply: prints the changes and the generated key once; a bad file exits 2 with the path', async () => {
    const f = file(FILE);
    const saved = { ...process.env };
    Object.assign(process.env, ENV);
    try {
      const out: string[] = [];
      const err: string[] = [];
      const io = { stdout: (l: string) => out.push(l), stderr: (l: string) => err.push(l) };
      expect(await runAdmin(['apply', f, '--dry-run'], deps, io)).toBe(EXIT_OK);
      expect(out.at(-1)).toBe('dry run, nothing written: 6 changed, 0 unchanged');
      expect(await counts(db)).toMatchObject({ accounts: 0, api_keys: 0, prices: 0 });

      out.length = 0;
      expect(await runAdmin(['apply', f], deps, io)).toBe(EXIT_OK);
      expect(out.filter((l) => /^key for acme\/generated \(key_\w+\): sk-sy-/.test(l))).toHaveLength(1);
      expect(out.join('\n')).not.toContain(ACME_KEY);
      expect(out.join('\n')).not.toContain(FAST_KEY);

      out.length = 0;
      expect(await runAdmin(['apply', f], deps, io)).toBe(EXIT_OK);
      expect(out.join('\n')).not.toMatch(/sk-sy-/);
      expect(out).toContain('0 changed, 6 unchanged');

      err.length = 0;
      expect(await runAdmin(['apply', file('channels:\n  - id: x\n    provider: openai\n    base_url: http://h/v1\n    models: [{ id: m, price_usd_per_mtok: { input: "-1", output: "1" } }]\n')], deps, io)).toBe(
        EXIT_BAD_INPUT,
      );
      expect(err.join('\n')).toMatch(/channels\[0\]\.models\[0\]\.price_usd_per_mtok\.input: must be a non-negative decimal USD amount/);
      expect(await runAdmin(['apply', join(dir, 'missing.yaml')], deps, io)).toBe(EXIT_BAD_INPUT);
      expect(err.at(-1)).toMatch(/cannot read .*missing\.yaml: ENOENT/);
    } finally {
      for (const k of Object.keys(ENV)) if (!(k in saved)) delete process.env[k];
    }
  });
});

describe('SWITCHYARD_CONFIG at billing start', () => {
  let db: Kysely<DB>;
  let nc: NatsConnection;

  beforeAll(async () => {
    buildBilling();
    db = await freshBillingDb();
    nc = await connectTestNats();
    await resetUsageStreams(nc);
  });
  afterAll(async () => {
    await db?.destroy();
    await nc?.drain();
  });

  it('billing applies the file before answering: the declared key resolves and the channel is in the catalog', async () => {
    const billing = await spawnBilling({ SWITCHYARD_CONFIG: file(FILE), ...ENV, BILLING_CONSUME_USAGE: 'false', SWITCHYARD_ADMIN_TOKEN: TEST_ADMIN_TOKEN, LOG_LEVEL: 'info' });
    try {
      const reply = keyResolveReplySchema.parse((await nc.request(KEY_RESOLVE_SUBJECT, JSON.stringify({ key_hash: hashApiKey(ACME_KEY) }), { timeout: 5_000 })).json());
      expect(reply).toMatchObject({ found: true, key: { account_id: 'acme', name: 'ci', models: ['gpt-4o*'], rpm: 600, price_multiplier_ppm: 1_250_000, route_preset: 'performance' } });
      const catalog = catalogReplySchema.parse((await nc.request(CATALOG_SUBJECT, '{}', { timeout: 5_000 })).json());
      expect(catalog.channels).toEqual([
        expect.objectContaining({ id: 'fast-openai', models: [{ model: 'gpt-4o-mini', upstream_model: 'gpt-4o-mini-2024-07-18', price: { input_nano_per_mtok: 150_000_000, output_nano_per_mtok: 600_000_000, cached_input_nano_per_mtok: 75_000_000 } }] }),
      ]);
      // Secrets stay out of the log; the generated key's material cannot be shown there, so the log says how to get it.
      expect(billing.output()).not.toContain(ACME_KEY);
      expect(billing.output()).not.toContain(FAST_KEY);
      expect(billing.output()).toMatch(/generated material, which is not logged.*rotate-key --id key_/);

      // The admin API applies the same shape as JSON; ${VAR} is not read from billing's environment.
      const post = (body: unknown, q = '') =>
        fetch(`${billing.url}/admin/v1/apply${q}`, { method: 'POST', headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const dry = await post({ accounts: [{ id: 'beta', balance_usd: '3.00' }] }, '?dry_run=true');
      expect(dry.status).toBe(200);
      expect(await dry.json()).toMatchObject({ dry_run: true, changes: [{ kind: 'account', id: 'beta', action: 'created' }] });
      expect(await db.selectFrom('accounts').select('id').where('id', '=', 'beta').executeTakeFirst()).toBeUndefined();
      const leak = await post({ channels: [{ id: 'x', provider: 'openai', base_url: 'http://h/v1', api_key: '${FAST_KEY}', models: [{ id: 'm' }] }] });
      expect(leak.status).toBe(400);
      expect(((await leak.json()) as { error: { message: string } }).error.message).toMatch(/channels\[0\]\.api_key: \$\{FAST_KEY\} is substituted only in files/);
      const money = await post({ accounts: [{ id: 'beta', balance_usd: 3 }] });
      expect(money.status).toBe(400);
    } finally {
      billing.child.kill('SIGTERM');
      await exited(billing.child);
    }
  });

  it('the built CLI (npm run admin -- apply) reads ${VAR} from its environment and exits 2 on a refused file', async () => {
    const cli = (args: string[], env: Record<string, string>) =>
      new Promise<{ code: number | null; out: string }>((done) => {
        const child = spawn(process.execPath, [resolve(ROOT, 'services/billing/dist/admin.cli.js'), ...args], { cwd: ROOT, env: { ...process.env, DATABASE_URL, NATS_URL, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (out += d.toString()));
        child.on('exit', (code) => done({ code, out }));
      });
    const f = file(FILE.replace('name: Acme Inc', 'name: Acme Renamed'));
    const ok = await cli(['apply', f], ENV);
    expect(ok.code).toBe(0);
    expect(ok.out).toContain('updated account acme (name)');
    expect(ok.out).not.toContain(FAST_KEY);
    const refused = await cli(['apply', f], { ACME_KEY });
    expect(refused.code).toBe(2);
    expect(refused.out).toContain('channels[0].api_key: environment variable FAST_KEY is not set');
  });

  it('a bad file stops billing from starting, with the path in the error and nothing written', async () => {
    const before = await snapshot(db);
    const child = spawn(process.execPath, [resolve(ROOT, 'services/billing/dist/main.js')], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL, NATS_URL, BILLING_PORT: '0', BILLING_HOST: '127.0.0.1', SWITCHYARD_CONFIG: file(FILE.replace('rpm: 600', 'rpm: -1')), ...ENV },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    expect((await exited(child)).code).toBe(1);
    expect(out).toMatch(/"msg":"SWITCHYARD_CONFIG was not applied \(nothing written\); billing does not start"/);
    expect(out).toMatch(/invalid .*switchyard-\d+\.yaml: keys\[0\]\.limits\.rpm: must be >= 1 \(got -1\)/);
    expect(out).not.toContain('"msg":"listening"');
    expect(out).not.toContain(FAST_KEY);
    expect(await snapshot(db)).toBe(before);
  });
});
