import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import type { NatsConnection } from '@nats-io/transport-node';
import { CHANNEL_CREDENTIAL_SUBJECT, KEY_RESOLVE_SUBJECT } from '@switchyard/contracts';
import type { DB } from '../../services/billing/src/db/database';
import { startBilling, type RunningBilling } from '../../services/billing/src/start-billing';
import { hashApiKey } from '../../services/billing/src/keys/api-key';
import { TEST_ADMIN_TOKEN, connectTestNats, freshBillingDb } from '../support/billing';

/** Everything billing stores, to prove that a refused request wrote nothing. */
async function snapshot(db: Kysely<DB>): Promise<string> {
  const tables = ['accounts', 'balances', 'api_keys', 'groups', 'channels', 'channel_models', 'prices', 'ledger'] as const;
  const out: Record<string, unknown> = {};
  for (const t of tables) out[t] = await db.selectFrom(t).selectAll().execute();
  return JSON.stringify(out);
}

interface Res {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

describe('admin REST API', () => {
  let db: Kysely<DB>;
  let nc: NatsConnection;
  let billing: RunningBilling;

  const call = async (method: string, path: string, body?: unknown, token: string | null = TEST_ADMIN_TOKEN): Promise<Res> => {
    const headers: Record<string, string> = {};
    if (token !== null) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(`${billing.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : null };
  };

  /** Seeds an account with $100, a channel serving gpt-4o-mini and its price. */
  const seed = async () => {
    expect((await call('POST', '/admin/v1/accounts', { id: 'acme', name: 'Acme', balance_usd: '100.00' })).status).toBe(201);
    const ch = await call('PUT', '/admin/v1/channels/fast', {
      provider: 'openai',
      base_url: 'http://127.0.0.1:9001/v1',
      api_key: 'sk-upstream-secret-0001',
      priority: 1,
      models: ['gpt-4o-mini'],
    });
    expect(ch.status).toBe(201);
    const price = await call('POST', '/admin/v1/prices', { channel_id: 'fast', model: 'gpt-4o-mini', input_usd_per_mtok: '0.15', output_usd_per_mtok: '0.60' });
    expect(price.status).toBe(201);
  };

  beforeAll(async () => {
    nc = await connectTestNats();
  });
  beforeEach(async () => {
    db = await freshBillingDb();
    billing = await startBilling({ config: { port: 0, host: '127.0.0.1', consumeUsage: false, adminToken: TEST_ADMIN_TOKEN } });
  });
  afterEach(async () => {
    await billing.close();
    await db.destroy();
  });
  afterAll(async () => {
    await nc.drain();
  });

  it('creates accounts, keys, groups, channels and prices, and answers queries', async () => {
    await seed();
    expect((await call('PUT', '/admin/v1/groups/vip', { name: 'VIP', price_multiplier: '1.25', models: ['gpt-4o*'] })).body).toMatchObject({
      id: 'vip',
      price_multiplier: '1.25',
      price_multiplier_ppm: 1_250_000,
      models: ['gpt-4o*'],
    });

    const created = await call('POST', '/admin/v1/keys', {
      account_id: 'acme',
      name: 'ci',
      models: ['gpt-4o-mini'],
      group_id: 'vip',
      rpm: 60,
      tpm: 100000,
      budget_usd_per_day: '5',
      budget_usd_per_month: '50.5',
      route_mode: 'smart',
      route_preset: 'cheap',
    });
    expect(created.status).toBe(201);
    expect(created.body.key).toMatch(/^sk-sy-/);
    const keyId: string = created.body.id;
    expect(created.body.key_view).toMatchObject({ group_id: 'vip', rpm: 60, tpm: 100000, budget_nano_per_day: 5_000_000_000, budget_nano_per_month: 50_500_000_000 });

    // The key is shown once: never again by get or list.
    const got = await call('GET', `/admin/v1/keys/${keyId}`);
    expect(got.status).toBe(200);
    expect(JSON.stringify(got.body)).not.toContain(created.body.key);
    expect((await call('GET', '/admin/v1/keys?account_id=acme')).body.keys).toHaveLength(1);

    // Ingress sees the limits in the key snapshot.
    const snap = (await nc.request(KEY_RESOLVE_SUBJECT, JSON.stringify({ key_hash: hashApiKey(created.body.key) }), { timeout: 5_000 })).json<any>(); // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(snap.key).toMatchObject({
      group_id: 'vip',
      price_multiplier_ppm: 1_250_000,
      group_models: ['gpt-4o*'],
      rpm: 60,
      tpm: 100000,
      budget_nano_per_day: 5_000_000_000,
      budget_nano_per_month: 50_500_000_000,
      route_mode: 'smart',
      route_preset: 'cheap',
    });

    // Update limits (null clears), rotate, revoke.
    const patched = await call('PATCH', `/admin/v1/keys/${keyId}`, { rpm: 120, budget_usd_per_day: null });
    expect(patched.status).toBe(200);
    expect(patched.body.key).toMatchObject({ rpm: 120, budget_nano_per_day: null, tpm: 100000 });
    const rotated = await call('POST', `/admin/v1/keys/${keyId}/rotate`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.key).not.toBe(created.body.key);
    const oldReply = (await nc.request(KEY_RESOLVE_SUBJECT, JSON.stringify({ key_hash: hashApiKey(created.body.key) }), { timeout: 5_000 })).json();
    expect(oldReply).toEqual({ found: false });
    const revoked = await call('POST', `/admin/v1/keys/${keyId}/revoke`);
    expect(revoked.body).toMatchObject({ id: keyId, already_revoked: false });

    // Top-ups are idempotent per request id.
    expect((await call('POST', '/admin/v1/accounts/acme/topups', { usd: '2.5', request_id: 'pay-1' })).status).toBe(201);
    const again = await call('POST', '/admin/v1/accounts/acme/topups', { usd: '2.5', request_id: 'pay-1' });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ applied: false, balance_nano: 102_500_000_000 });
    expect((await call('GET', '/admin/v1/accounts')).body.accounts).toEqual([
      expect.objectContaining({ account_id: 'acme', balance_nano: 102_500_000_000, balance_usd: '102.50' }),
    ]);
    expect((await call('GET', '/admin/v1/accounts/acme')).body).toMatchObject({ account_id: 'acme', balance_usd: '102.50' });

    // Ledger: by request id, and by account paginated.
    expect((await call('GET', '/admin/v1/ledger/pay-1')).body).toMatchObject({ request_id: 'pay-1', kind: 'topup', amount_nano: 2_500_000_000 });
    const page1 = await call('GET', '/admin/v1/accounts/acme/ledger?limit=1');
    expect(page1.body.entries.map((e: { request_id: string }) => e.request_id)).toEqual(['pay-1']);
    const page2 = await call('GET', `/admin/v1/accounts/acme/ledger?limit=1&cursor=${page1.body.next_cursor}`);
    expect(page2.body).toMatchObject({ entries: [{ request_id: 'opening:acme' }], next_cursor: null });
    const future = await call('GET', '/admin/v1/accounts/acme/ledger?from=2099-01-01');
    expect(future.body.entries).toEqual([]);

    // Prices: history, newest first.
    await call('POST', '/admin/v1/prices', { channel_id: 'fast', model: 'gpt-4o-mini', input_usd_per_mtok: '0.2', output_usd_per_mtok: '0.8', reasoning_usd_per_mtok: '1', request_fee_usd: '0.0001' });
    const history = await call('GET', '/admin/v1/prices?channel_id=fast&model=gpt-4o-mini');
    expect(history.body.prices.map((p: { input_nano_per_mtok: number }) => p.input_nano_per_mtok)).toEqual([200_000_000, 150_000_000]);
    expect(history.body.prices[0]).toMatchObject({ reasoning_nano_per_mtok: 1_000_000_000, request_fee_nano: 100_000, cache_write_nano_per_mtok: null });

    // Channels never return the credential.
    const channels = await call('GET', '/admin/v1/channels');
    expect(channels.body.channels).toEqual([expect.objectContaining({ id: 'fast', has_credential: true })]);
    expect(JSON.stringify(channels.body)).not.toContain('sk-upstream-secret-0001');
    expect(JSON.stringify((await call('GET', '/admin/v1/channels/fast')).body)).not.toContain('sk-upstream-secret-0001');
  });

  it('stores channel credentials encrypted and decrypts them for ingress', async () => {
    await seed();
    const raw = await db.selectFrom('channels').select('credential').where('id', '=', 'fast').executeTakeFirstOrThrow();
    expect(raw.credential).toMatch(/^enc:v1:/);
    expect(raw.credential).not.toContain('sk-upstream-secret-0001');
    const reply = (await nc.request(CHANNEL_CREDENTIAL_SUBJECT, JSON.stringify({ channel_id: 'fast' }), { timeout: 5_000 })).json();
    expect(reply).toEqual({ channel_id: 'fast', found: true, api_key: 'sk-upstream-secret-0001' });
  });

  it('stores an OAuth refresh-token credential encrypted, never returns it, and hands the grant to ingress', async () => {
    const grant = { type: 'oauth', client_id: 'cid', client_secret: 'oauth-secret-0003', token_url: 'https://login.example/token', refresh_token: 'oauth-rt-0004', scope: 'llm' };
    const r = await call('PUT', '/admin/v1/channels/entra', { provider: 'azure-openai', base_url: 'https://res.openai.azure.com', credential: grant, api_version: '2024-10-21', models: ['gpt-4o=prod-4o'] });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ has_credential: true, credential_type: 'oauth', settings: { api_version: '2024-10-21' } });
    const raw = await db.selectFrom('channels').select(['credential', 'credential_type']).where('id', '=', 'entra').executeTakeFirstOrThrow();
    expect(raw.credential).toMatch(/^enc:v1:/);
    expect(raw.credential_type).toBe('oauth');
    for (const view of [r.body, (await call('GET', '/admin/v1/channels')).body, (await call('GET', '/admin/v1/channels/entra')).body]) {
      const text = JSON.stringify(view);
      expect(text).not.toContain('oauth-secret-0003');
      expect(text).not.toContain('oauth-rt-0004');
    }
    const reply = (await nc.request(CHANNEL_CREDENTIAL_SUBJECT, JSON.stringify({ channel_id: 'entra' }), { timeout: 5_000 })).json();
    expect(reply).toEqual({
      channel_id: 'entra',
      found: true,
      api_key: null,
      oauth: { client_id: 'cid', client_secret: 'oauth-secret-0003', token_url: 'https://login.example/token', refresh_token: 'oauth-rt-0004', scope: 'llm' },
      settings: { api_version: '2024-10-21' },
    });
    // Back to a static key: the credential type follows.
    expect((await call('PUT', '/admin/v1/channels/entra', { provider: 'azure-openai', base_url: 'https://res.openai.azure.com', api_key: 'az-0005', api_version: '2024-10-21', models: ['gpt-4o'] })).status).toBe(200);
    const back = (await nc.request(CHANNEL_CREDENTIAL_SUBJECT, JSON.stringify({ channel_id: 'entra' }), { timeout: 5_000 })).json();
    expect(back).toEqual({ channel_id: 'entra', found: true, api_key: 'az-0005', settings: { api_version: '2024-10-21' } });
  });

  it('refuses an Azure channel without a valid api_version, an api_version elsewhere, and an incomplete OAuth grant, writing nothing', async () => {
    const before = await snapshot(db);
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ provider: 'azure-openai', base_url: 'https://res.openai.azure.com', api_key: 'k', models: ['m'] }, /api-version/],
      [{ provider: 'azure-openai', base_url: 'https://res.openai.azure.com', api_key: 'k', api_version: 'latest', models: ['m'] }, /api-version must look like/],
      [{ provider: 'openai', base_url: 'http://127.0.0.1:1/v1', api_key: 'k', api_version: '2024-10-21', models: ['m'] }, /azure-openai channels only/],
      [{ provider: 'openai', base_url: 'http://127.0.0.1:1/v1', credential: { type: 'oauth', client_id: 'c', token_url: 'https://x/t', refresh_token: 'secret-rt-0006' }, models: ['m'] }, /needs client_secret/],
      [{ provider: 'openai', base_url: 'http://127.0.0.1:1/v1', credential: { type: 'oauth', client_id: 'c', client_secret: 's', token_url: 'not a url', refresh_token: 'r' }, models: ['m'] }, /token_url/],
      [{ provider: 'openai', base_url: 'http://127.0.0.1:1/v1', api_key: 'k', credential: { type: 'oauth' }, models: ['m'] }, /either/],
    ];
    for (const [body, message] of bad) {
      const r = await call('PUT', '/admin/v1/channels/x', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.message).toMatch(message);
      expect(JSON.stringify(r.body)).not.toContain('secret-rt-0006');
    }
    expect(await snapshot(db)).toBe(before);
  });

  it('encrypts plaintext credentials left from before at start', async () => {
    await seed();
    await db.updateTable('channels').set({ credential: 'sk-legacy-plaintext-0002' }).where('id', '=', 'fast').execute();
    await billing.close();
    billing = await startBilling({ config: { port: 0, host: '127.0.0.1', consumeUsage: false, adminToken: TEST_ADMIN_TOKEN } });
    const raw = await db.selectFrom('channels').select('credential').where('id', '=', 'fast').executeTakeFirstOrThrow();
    expect(raw.credential).toMatch(/^enc:v1:/);
    const reply = (await nc.request(CHANNEL_CREDENTIAL_SUBJECT, JSON.stringify({ channel_id: 'fast' }), { timeout: 5_000 })).json();
    expect(reply).toMatchObject({ api_key: 'sk-legacy-plaintext-0002' });
  });

  it('refuses to store a credential without an encryption key, and writes nothing', async () => {
    await billing.close();
    billing = await startBilling({ config: { port: 0, host: '127.0.0.1', consumeUsage: false, adminToken: TEST_ADMIN_TOKEN, credentialKey: null } });
    const before = await snapshot(db);
    const r = await call('PUT', '/admin/v1/channels/fast', { provider: 'openai', base_url: 'http://127.0.0.1:9001/v1', api_key: 'sk-x-0001', models: ['m'] });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/SWITCHYARD_CREDENTIAL_KEY/);
    expect(await snapshot(db)).toBe(before);
  });

  it('answers 401 without or with a wrong token, and 503 when no token is configured', async () => {
    for (const token of [null, 'wrong-token']) {
      const r = await call('GET', '/admin/v1/accounts', undefined, token);
      expect(r.status).toBe(401);
      expect(r.body.error).toMatchObject({ type: 'authentication_error' });
    }
    const before = await snapshot(db);
    expect((await call('POST', '/admin/v1/accounts', { id: 'sneaky' }, 'wrong-token')).status).toBe(401);
    expect(await snapshot(db)).toBe(before);

    await billing.close();
    billing = await startBilling({ config: { port: 0, host: '127.0.0.1', consumeUsage: false, adminToken: null } });
    const disabled = await call('GET', '/admin/v1/accounts');
    expect(disabled.status).toBe(503);
    expect(disabled.body.error.message).toMatch(/SWITCHYARD_ADMIN_TOKEN/);
  });

  it('sets, shows and clears per-key routing control, and ingress gets it in the key snapshot', async () => {
    await seed();
    const created = await call('POST', '/admin/v1/keys', {
      account_id: 'acme',
      name: 'routed',
      route_allowed_channels: ['fast'],
      route_order: ['fast'],
      route_max_input_usd_per_mtok: '0.50',
      route_max_output_usd_per_mtok: '2',
      route_allow_fallbacks: false,
      route_midstream_failover: true,
    });
    expect(created.status).toBe(201);
    const shown = await call('GET', `/admin/v1/keys/${created.body.id}`);
    expect(shown.body).toMatchObject({
      route_allowed_channels: ['fast'],
      route_order: ['fast'],
      route_max_input_nano_per_mtok: 500_000_000,
      route_max_output_nano_per_mtok: 2_000_000_000,
      route_allow_fallbacks: false,
      route_midstream_failover: true,
    });
    const resolved = await nc.request(KEY_RESOLVE_SUBJECT, JSON.stringify({ key_hash: hashApiKey(created.body.key) }), { timeout: 5_000 });
    expect(resolved.json()).toMatchObject({ found: true, key: { route_allowed_channels: ['fast'], route_max_input_nano_per_mtok: 500_000_000, route_midstream_failover: true } });
    const cleared = await call('PATCH', `/admin/v1/keys/${created.body.id}`, { route_allowed_channels: null, route_max_input_usd_per_mtok: null, route_midstream_failover: null });
    expect(cleared.status).toBe(200);
    expect(cleared.body.key).toMatchObject({ route_allowed_channels: null, route_order: ['fast'], route_max_input_nano_per_mtok: null, route_midstream_failover: null });
  });

  it.each([
    ['negative price', 'POST', '/admin/v1/prices', { channel_id: 'fast', model: 'gpt-4o-mini', input_usd_per_mtok: '-1', output_usd_per_mtok: '0.6' }, 400],
    ['float price', 'POST', '/admin/v1/prices', { channel_id: 'fast', model: 'gpt-4o-mini', input_usd_per_mtok: 0.15, output_usd_per_mtok: '0.6' }, 400],
    ['unknown model', 'POST', '/admin/v1/prices', { channel_id: 'fast', model: 'nope', input_usd_per_mtok: '1', output_usd_per_mtok: '1' }, 404],
    ['unknown channel', 'POST', '/admin/v1/prices', { channel_id: 'ghost', model: 'gpt-4o-mini', input_usd_per_mtok: '1', output_usd_per_mtok: '1' }, 404],
    ['malformed channel id', 'POST', '/admin/v1/prices', { channel_id: 'bad id!', model: 'gpt-4o-mini', input_usd_per_mtok: '1', output_usd_per_mtok: '1' }, 400],
    ['unknown account (key)', 'POST', '/admin/v1/keys', { account_id: 'ghost', name: 'k' }, 404],
    ['unknown group', 'POST', '/admin/v1/keys', { account_id: 'acme', name: 'k', group_id: 'ghost' }, 404],
    ['zero rpm', 'POST', '/admin/v1/keys', { account_id: 'acme', name: 'k', rpm: 0 }, 400],
    ['negative budget', 'POST', '/admin/v1/keys', { account_id: 'acme', name: 'k', budget_usd_per_day: '-5' }, 400],
    ['unknown routing channel', 'POST', '/admin/v1/keys', { account_id: 'acme', name: 'k', route_allowed_channels: ['fast', 'ghost'] }, 400],
    ['route order outside the allowed channels', 'POST', '/admin/v1/keys', { account_id: 'acme', name: 'k', route_allowed_channels: ['fast'], route_order: ['ghost'] }, 400],
    ['route channels not a list', 'POST', '/admin/v1/keys', { account_id: 'acme', name: 'k', route_allowed_channels: 'fast' }, 400],
    ['float max price', 'POST', '/admin/v1/keys', { account_id: 'acme', name: 'k', route_max_input_usd_per_mtok: 0.5 }, 400],
    ['non-boolean failover flag', 'POST', '/admin/v1/keys', { account_id: 'acme', name: 'k', route_midstream_failover: 'yes' }, 400],
    ['malformed account id', 'POST', '/admin/v1/accounts', { id: '../etc' }, 400],
    ['non-object body', 'POST', '/admin/v1/accounts', ['acme'], 400],
    ['unknown account (topup)', 'POST', '/admin/v1/accounts/ghost/topups', { usd: '1' }, 404],
    ['zero topup', 'POST', '/admin/v1/accounts/acme/topups', { usd: '0' }, 400],
    ['negative multiplier', 'PUT', '/admin/v1/groups/g1', { price_multiplier: '-1' }, 400],
    ['malformed group id', 'PUT', '/admin/v1/groups/bad%20id', { price_multiplier: '1' }, 400],
    ['unknown key (patch)', 'PATCH', '/admin/v1/keys/key_ghost', { rpm: 5 }, 404],
    ['bad provider', 'PUT', '/admin/v1/channels/c2', { provider: 'acme-ai', base_url: 'http://x/v1', models: ['m'] }, 400],
    ['bad ledger range', 'GET', '/admin/v1/accounts/acme/ledger?from=2026-02-01&to=2026-01-01', undefined, 400],
    ['bad cursor', 'GET', '/admin/v1/accounts/acme/ledger?cursor=abc', undefined, 400],
    ['unknown request id', 'GET', '/admin/v1/ledger/no-such-request', undefined, 404],
  ])('refuses %s with a clear error and writes nothing', async (_name, method, path, body, status) => {
    await seed();
    const before = await snapshot(db);
    const r = await call(method, path, body);
    expect(r.status).toBe(status);
    expect(r.body.error.message).toEqual(expect.any(String));
    expect(r.body.error.message.length).toBeGreaterThan(5);
    expect(await snapshot(db)).toBe(before);
  });

  it('answers malformed JSON and unknown routes with OpenAI-style errors, writing nothing', async () => {
    const before = await snapshot(db);
    const bad = await fetch(`${billing.url}/admin/v1/accounts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: '{"id": "acme",',
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { type: string; message: string } }).error).toMatchObject({ type: 'invalid_request_error', message: expect.stringMatching(/JSON/) });
    const unknown = await call('GET', '/admin/v1/no-such-thing');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toMatch(/no-such-thing/);
    expect(await snapshot(db)).toBe(before);
    // Health checks keep their own shape.
    expect(await (await fetch(`${billing.url}/healthz`)).json()).toEqual({ status: 'ok' });
  });

  it('serves an OpenAPI 3 document listing every admin route', async () => {
    const r = await fetch(`${billing.url}/admin/v1/openapi.json`);
    expect(r.status).toBe(200);
    const doc = (await r.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toMatch(/^3\./);
    const routes = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    expect(routes.sort()).toEqual(
      [
        'GET /admin/v1/accounts',
        'POST /admin/v1/accounts',
        'GET /admin/v1/accounts/{id}',
        'POST /admin/v1/accounts/{id}/topups',
        'GET /admin/v1/accounts/{id}/ledger',
        'GET /admin/v1/ledger/{requestId}',
        'GET /admin/v1/keys',
        'POST /admin/v1/keys',
        'GET /admin/v1/keys/{id}',
        'PATCH /admin/v1/keys/{id}',
        'POST /admin/v1/keys/{id}/rotate',
        'POST /admin/v1/keys/{id}/revoke',
        'GET /admin/v1/groups',
        'GET /admin/v1/groups/{id}',
        'PUT /admin/v1/groups/{id}',
        'GET /admin/v1/channels',
        'GET /admin/v1/channels/{id}',
        'PUT /admin/v1/channels/{id}',
        'GET /admin/v1/prices',
        'POST /admin/v1/prices',
        'POST /admin/v1/apply',
      ].sort(),
    );
    // Every documented route is served (401 without a token, not 404).
    for (const route of routes) {
      const [method, path] = route.split(' ') as [string, string];
      const concrete = path.replace('{id}', 'acme').replace('{requestId}', 'x');
      const res = await fetch(`${billing.url}${concrete}`, { method, headers: { 'content-type': 'application/json' }, body: method === 'GET' ? undefined : '{}' });
      expect([route, res.status]).toEqual([route, 401]);
    }
  });
});
