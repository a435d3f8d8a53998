import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import type { NatsConnection } from '@nats-io/transport-node';
import type { DB } from '../../services/billing/src/db/database';
import { startBilling, type RunningBilling } from '../../services/billing/src/start-billing';
import { createAccount, createKey, revokeKey } from '../../services/billing/src/admin.commands';
import { settleUsageBatch } from '../../services/billing/src/ledger/usage.settlement';
import { ACME, adminDeps, connectTestNats, freshBillingDb, usageEvent } from '../support/billing';

describe('user endpoints with the user own key', () => {
  let db: Kysely<DB>;
  let nc: NatsConnection;
  let billing: RunningBilling;

  const get = async (path: string, key: string | null) => {
    const r = await fetch(`${billing.url}${path}`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
    return { status: r.status, body: (await r.json()) as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };

  beforeAll(async () => {
    nc = await connectTestNats();
  });
  beforeEach(async () => {
    db = await freshBillingDb();
    billing = await startBilling({ config: { port: 0, host: '127.0.0.1', consumeUsage: false } });
  });
  afterEach(async () => {
    await billing.close();
    await db.destroy();
  });
  afterAll(async () => {
    await nc.drain();
  });

  it('shows limits, remaining budgets, balance and usage by day and model', async () => {
    const deps = adminDeps(db, nc);
    await createAccount(deps, { id: ACME, balance_usd: '10' });
    const key = await createKey(deps, { account: ACME, name: 'me', limits: { rpm: '30', budget_usd_per_day: '0.001', budget_usd_per_month: '1' } });
    const other = await createKey(deps, { account: ACME, name: 'other' });
    const now = Date.now();
    const yesterday = new Date(now - 86_400_000).toISOString();
    await settleUsageBatch(db, [
      usageEvent({ key_id: key.id, cost_nano: 300_000, occurred_at: new Date(now - 1000).toISOString() }),
      usageEvent({ key_id: key.id, cost_nano: 200_000, occurred_at: new Date(now - 2000).toISOString(), model_served: '', model_requested: 'gpt-4o' }),
      usageEvent({ key_id: other.id, cost_nano: 50_000, occurred_at: new Date(now - 3000).toISOString() }),
      usageEvent({ key_id: key.id, cost_nano: 1_000, occurred_at: yesterday }),
    ]);

    const info = await get('/v1/me/key', key.key);
    expect(info.status).toBe(200);
    expect(info.body).toMatchObject({ key_id: key.id, rpm: 30, budget_nano_per_day: 1_000_000, budget_nano_per_month: 1_000_000_000, spent_nano_today: 500_000, remaining_nano_today: 500_000 });
    // This month includes yesterday unless today is the 1st (UTC).
    const monthSpent = new Date(yesterday).getUTCMonth() === new Date(now).getUTCMonth() ? 501_000 : 500_000;
    expect(info.body).toMatchObject({ spent_nano_this_month: monthSpent, remaining_nano_this_month: 1_000_000_000 - monthSpent });
    expect(JSON.stringify(info.body)).not.toContain(key.key!);

    const bal = await get('/v1/me/balance', key.key);
    expect(bal.body).toEqual({ account_id: ACME, balance_nano: 10_000_000_000 - 551_000, balance_usd: '9.999449' });

    const today = new Date(now).toISOString().slice(0, 10);
    const usage = await get(`/v1/me/usage?from=${new Date(now - 2 * 86_400_000).toISOString()}&to=${new Date(now + 1000).toISOString()}`, key.key);
    expect(usage.status).toBe(200);
    const todayRows = usage.body.usage.filter((r: { day: string }) => r.day === today);
    expect(todayRows).toEqual([
      expect.objectContaining({ model: 'gpt-4o', requests: 1, cost_nano: 200_000 }),
      expect.objectContaining({ model: 'gpt-4o-mini-2024-07-18', requests: 2, cost_nano: 350_000, input_tokens: 2000 }),
    ]);
  });

  it('refuses a missing, unknown or revoked key with 401, and a bad range with 400', async () => {
    const deps = adminDeps(db, nc);
    await createAccount(deps, { id: ACME });
    const key = await createKey(deps, { account: ACME, name: 'me' });
    expect((await get('/v1/me/balance', null)).status).toBe(401);
    expect((await get('/v1/me/balance', 'sk-sy-unknown-key-000000000000')).body.error.code).toBe('invalid_api_key');
    expect((await get('/v1/me/usage?from=yesterday', key.key)).status).toBe(400);
    expect((await get('/v1/me/usage?from=2026-02-01&to=2026-01-01', key.key)).status).toBe(400);
    await revokeKey(deps, { id: key.id });
    expect((await get('/v1/me/key', key.key)).status).toBe(401);
  });
});
