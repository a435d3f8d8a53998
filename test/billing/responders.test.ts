import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  CATALOG_SUBJECT,
  CHANNEL_CREDENTIAL_SUBJECT,
  KEY_CHANGED_SUBJECT,
  KEY_RESOLVE_SUBJECT,
  catalogReplySchema,
  channelCredentialReplySchema,
  keyChangedSchema,
  keyResolveReplySchema,
} from '@switchyard/contracts';
import type { DB } from '../../services/billing/src/db/database';
import { startBilling, type RunningBilling } from '../../services/billing/src/start-billing';
import { createAccount, createChannel, createKey, revokeKey, setPrice } from '../../services/billing/src/admin.commands';
import { hashApiKey } from '../../services/billing/src/keys/api-key';
import { Responder } from '../../services/billing/src/nats/responder';
import { createLogger } from '@switchyard/telemetry';
import { adminDeps, connectTestNats, freshBillingDb, resetUsageStreams } from '../support/billing';

const UPSTREAM_SECRET = 'sk-upstream-secret-do-not-leak-0001';

describe('billing over NATS request-reply', () => {
  let db: Kysely<DB>;
  let nc: NatsConnection;
  let billing: RunningBilling;

  const resolveKey = async (key_hash: string) =>
    keyResolveReplySchema.parse((await nc.request(KEY_RESOLVE_SUBJECT, JSON.stringify({ key_hash }), { timeout: 5_000 })).json());

  beforeAll(async () => {
    db = await freshBillingDb();
    nc = await connectTestNats();
    await resetUsageStreams(nc);
    billing = await startBilling({ config: { port: 0, host: '127.0.0.1', consumeUsage: false } });
    const deps = adminDeps(db, nc);
    await createAccount(deps, { id: 'acme', balance_usd: '100.00' });
    await createChannel(deps, {
      id: 'fast',
      provider: 'openai',
      base_url: 'http://127.0.0.1:9001/v1',
      api_key: UPSTREAM_SECRET,
      priority: '1',
      weight: '3',
      models: ['gpt-4o-mini', 'gpt-4o=gpt-4o-2024-08-06', 'unpriced-model'],
    });
    await createChannel(deps, { id: 'slow', provider: 'anthropic', base_url: 'https://api.anthropic.com', models: ['claude-sonnet'], disabled: true });
    await setPrice(deps, { channel: 'fast', model: 'gpt-4o-mini', input_usd_per_mtok: '0.15', output_usd_per_mtok: '0.60', cached_input_usd_per_mtok: '0.075' });
    await setPrice(deps, { channel: 'fast', model: 'gpt-4o', input_usd_per_mtok: '2.50', output_usd_per_mtok: '10' });
    // A scheduled change is not in force yet.
    await setPrice(deps, {
      channel: 'fast',
      model: 'gpt-4o',
      input_usd_per_mtok: '99',
      output_usd_per_mtok: '99',
      effective_from: new Date(Date.now() + 3_600_000).toISOString(),
    });
    await setPrice(deps, { channel: 'slow', model: 'claude-sonnet', input_usd_per_mtok: '3', output_usd_per_mtok: '15', cached_input_usd_per_mtok: '0.3' });
  });

  afterAll(async () => {
    await billing?.close();
    await nc?.drain();
    await db?.destroy();
  });

  it('resolves a created key by the sha256 of its material', async () => {
    const created = await createKey(adminDeps(db, nc), { account: 'acme', name: 'ci', models: 'gpt-4o*,claude-*' });
    const reply = await resolveKey(hashApiKey(created.key!));
    expect(reply).toEqual({
      found: true,
      key: {
        key_id: created.id,
        account_id: 'acme',
        name: 'ci',
        models: ['gpt-4o*', 'claude-*'],
        revoked: false,
        expires_at: null,
        // No group and no limits: ×1, every model, nothing to enforce.
        group_id: null,
        price_multiplier_ppm: 1_000_000,
        group_models: ['*'],
        rpm: null,
        tpm: null,
        budget_nano_per_day: null,
        budget_nano_per_month: null,
        route_mode: null,
        route_preset: null,
        // No per-key routing control: every channel, no ceiling, system defaults.
        route_allowed_channels: null,
        route_order: null,
        route_max_input_nano_per_mtok: null,
        route_max_output_nano_per_mtok: null,
        route_allow_fallbacks: null,
        route_midstream_failover: null,
      },
    });
  });

  it('answers found:false for an unknown hash and for a malformed request', async () => {
    expect(await resolveKey('0'.repeat(64))).toEqual({ found: false });
    const malformed = await nc.request(KEY_RESOLVE_SUBJECT, JSON.stringify({ key_hash: 'sk-sy-plaintext' }), { timeout: 5_000 });
    expect(malformed.json()).toEqual({ found: false });
    const notJson = await nc.request(KEY_RESOLVE_SUBJECT, 'not json', { timeout: 5_000 });
    expect(notJson.json()).toEqual({ found: false });
  });

  it('reports a revoked key as revoked and tells ingress caches to drop it', async () => {
    const created = await createKey(adminDeps(db, nc), { account: 'acme', name: 'to-revoke', expires_at: '2030-01-01T00:00:00Z' });
    const changed = nc.subscribe(KEY_CHANGED_SUBJECT, { max: 1 });
    const r = await revokeKey(adminDeps(db, nc), { id: created.id });
    expect(r.notice.sent).toBe(true);
    for await (const m of changed) {
      expect(keyChangedSchema.parse(m.json())).toEqual({ key_hash: hashApiKey(created.key!), key_id: created.id });
    }
    const reply = await resolveKey(hashApiKey(created.key!));
    expect(reply.found && reply.key).toMatchObject({ key_id: created.id, revoked: true, expires_at: '2030-01-01T00:00:00.000Z' });
  });

  it('never stores key material: only hashes and a short prefix', async () => {
    const created = await createKey(adminDeps(db, nc), { account: 'acme', name: 'scan' });
    const fixed = await createKey(adminDeps(db, nc), { account: 'acme', name: 'fixed', key: 'sk-fixed-material-0123456789abcdef' });
    const rows = await db.selectFrom('api_keys').selectAll().execute();
    const dump = JSON.stringify(rows);
    for (const key of [created.key!, fixed.key!]) {
      expect(dump).not.toContain(key);
      expect(dump).not.toContain(key.slice(12));
    }
    expect(rows.find((r) => r.id === created.id)).toMatchObject({ key_hash: hashApiKey(created.key!), key_prefix: created.key!.slice(0, 12) });
  });

  it('serves the catalog with current prices, priced models only, and no credential', async () => {
    const raw = await nc.request(CATALOG_SUBJECT, '{}', { timeout: 5_000 });
    expect(raw.string()).not.toContain(UPSTREAM_SECRET);
    expect(raw.string()).not.toContain('credential');
    const catalog = catalogReplySchema.parse(raw.json());
    expect(catalog.channels).toEqual([
      {
        id: 'fast',
        provider: 'openai',
        base_url: 'http://127.0.0.1:9001/v1',
        priority: 1,
        weight: 3,
        enabled: true,
        models: [
          { model: 'gpt-4o', upstream_model: 'gpt-4o-2024-08-06', price: { input_nano_per_mtok: 2_500_000_000, output_nano_per_mtok: 10_000_000_000, cached_input_nano_per_mtok: 2_500_000_000 } },
          { model: 'gpt-4o-mini', upstream_model: 'gpt-4o-mini', price: { input_nano_per_mtok: 150_000_000, output_nano_per_mtok: 600_000_000, cached_input_nano_per_mtok: 75_000_000 } },
        ],
      },
      {
        id: 'slow',
        provider: 'anthropic',
        base_url: 'https://api.anthropic.com',
        priority: 0,
        weight: 1,
        enabled: false,
        models: [{ model: 'claude-sonnet', upstream_model: 'claude-sonnet', price: { input_nano_per_mtok: 3_000_000_000, output_nano_per_mtok: 15_000_000_000, cached_input_nano_per_mtok: 300_000_000 } }],
      },
    ]);
  });

  it('follows a price change at once', async () => {
    await setPrice(adminDeps(db, nc), { channel: 'fast', model: 'gpt-4o-mini', input_usd_per_mtok: '0.10', output_usd_per_mtok: '0.40' });
    const catalog = catalogReplySchema.parse((await nc.request(CATALOG_SUBJECT, '{}', { timeout: 5_000 })).json());
    const mini = catalog.channels.find((c) => c.id === 'fast')!.models.find((m) => m.model === 'gpt-4o-mini')!;
    expect(mini.price).toEqual({ input_nano_per_mtok: 100_000_000, output_nano_per_mtok: 400_000_000, cached_input_nano_per_mtok: 100_000_000 });
  });

  it('hands a channel credential to ingress, and found:false for an unknown channel', async () => {
    const ask = async (channel_id: string) =>
      channelCredentialReplySchema.parse((await nc.request(CHANNEL_CREDENTIAL_SUBJECT, JSON.stringify({ channel_id }), { timeout: 5_000 })).json());
    expect(await ask('fast')).toEqual({ channel_id: 'fast', found: true, api_key: UPSTREAM_SECRET });
    expect(await ask('slow')).toEqual({ channel_id: 'slow', found: true, api_key: null });
    expect(await ask('nope')).toEqual({ channel_id: 'nope', found: false, api_key: null });
  });

  it('keeps the stored credential when a channel is re-declared without one', async () => {
    await createChannel(adminDeps(db, nc), { id: 'fast', provider: 'openai', base_url: 'http://127.0.0.1:9001/v1', priority: '1', weight: '3', models: ['gpt-4o-mini', 'gpt-4o=gpt-4o-2024-08-06'] });
    const reply = channelCredentialReplySchema.parse(
      (await nc.request(CHANNEL_CREDENTIAL_SUBJECT, JSON.stringify({ channel_id: 'fast' }), { timeout: 5_000 })).json(),
    );
    expect(reply.api_key).toBe(UPSTREAM_SECRET);
  });

  it('answers a failed lookup with a service error, never with found:false', async () => {
    const subject = `billing.test.failing.${Date.now()}`;
    const failing = new Responder(nc, { subject, handle: () => Promise.reject(new Error('database down')) }, createLogger('billing-test', 'silent'));
    failing.start();
    try {
      const reply = await nc.request(subject, '{}', { timeout: 5_000 });
      expect(reply.data.length).toBe(0);
      expect(reply.headers?.get('Nats-Service-Error-Code')).toBe('500');
    } finally {
      await failing.stop();
    }
  });

  it('reports health and readiness over HTTP', async () => {
    expect(await (await fetch(`${billing.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${billing.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { db: 'ok', nats: 'ok' } });
  });
});
