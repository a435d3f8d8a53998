import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import { Client } from 'pg';
import { startFakeOpenAI, type FakeProvider } from '@switchyard/fake-provider';
import { freePort, ServiceProcess, startStack, type Stack } from '@switchyard/testkit';

/**
 * Balances and key budgets hold across ingress replicas: each replica spends
 * only the allowance billing leased to it, so however many requests arrive
 * at once, the account is never charged past its balance or budget.
 */

let fake: FakeProvider;
let stack: Stack;
let second: ServiceProcess;
let pg: Client;

// Output is expensive and input cheap, so a request's worst case (body bytes as input + max_tokens) is close to its cost.
const PRICE = { inputUsdPerMtok: '1', outputUsdPerMtok: '10000' };
const MAX_TOKENS = 3;

async function createAccount(id: string, usd: string): Promise<void> {
  await stack.admin(['create-account', '--id', id, '--balance-usd', usd]);
}

async function createKey(account: string, extra: string[] = []): Promise<{ key: string; id: string }> {
  return JSON.parse(await stack.admin(['create-key', '--account', account, '--name', `k-${Math.random()}`, ...extra, '--json'])) as { key: string; id: string };
}

async function chat(base: string, key: string) {
  const r = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: 'gpt-4o-mini', max_tokens: MAX_TOKENS, messages: [{ role: 'user', content: 'spend a little' }] }),
  });
  const text = await r.text();
  return { status: r.status, body: JSON.parse(text) as { error?: { message: string; type: string; code: string | null; param: string | null } } };
}

async function one(sql: string, params: unknown[]): Promise<string | null> {
  const r = await pg.query<{ v: string | null }>(sql, params);
  return r.rows[0]?.v ?? null;
}

/** Waits until billing has booked `n` usage rows for the account (the usage consumer runs behind). */
async function waitBooked(account: string, n: number, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const c = Number(await one(`SELECT count(*)::text AS v FROM ledger WHERE account_id = $1 AND kind = 'usage'`, [account]));
    if (c >= n) return;
    if (Date.now() > until) throw new Error(`only ${c} of ${n} usage rows booked for ${account}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  fake = await startFakeOpenAI({ behavior: { chunks: 3 } });
  stack = await startStack({
    channels: [{ id: 'c', baseUrl: fake.url, models: [{ model: 'gpt-4o-mini', ...PRICE }] }],
    env: {
      billing: { BILLING_LEASE_TTL_MS: '3000', BILLING_LEASE_GRACE_MS: '2000' },
      // Failures scripted below must not open the breaker: this suite is about money.
      ingress: { INGRESS_LEASE_SLICE_USD: '0.50', INGRESS_BREAKER_FAILURES: '1000' },
    },
  });
  const port = await freePort();
  second = new ServiceProcess('ingress', port, { ...stack.env, INGRESS_LEASE_SLICE_USD: '0.50', INGRESS_PORT: String(port) });
  await second.start();
  pg = new Client({ connectionString: stack.urls.databaseUrl });
  await pg.connect();
}, 180_000);

afterAll(async () => {
  await pg?.end();
  await second?.stop();
  await stack?.stop();
  await fake?.close();
});

describe('balance and budget enforcement across ingress replicas', () => {
  it('500 concurrent requests over two replicas never spend past the balance; the rest get 402 insufficient_quota', async () => {
    await createAccount('thrifty', '3.00'); // about 100 requests at the fake's usage
    const { key } = await createKey('thrifty');
    const results = await Promise.all(Array.from({ length: 500 }, (_, i) => chat(i % 2 === 0 ? stack.ingressUrl : second.url, key)));
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 402);
    expect(ok.length + refused.length).toBe(500);
    expect(ok.length).toBeGreaterThanOrEqual(50);
    expect(ok.length).toBeLessThanOrEqual(100);
    for (const r of refused) {
      expect(r.body.error).toMatchObject({ type: 'insufficient_quota', code: 'insufficient_quota', param: null });
      expect(r.body.error!.message).toMatch(/balance/);
    }
    await waitBooked('thrifty', ok.length);
    const spent = BigInt((await one(`SELECT (-sum(amount_nano))::text AS v FROM ledger WHERE account_id = $1 AND kind = 'usage'`, ['thrifty']))!);
    expect(spent).toBeGreaterThan(0n);
    expect(spent).toBeLessThanOrEqual(3_000_000_000n);
    expect(BigInt((await one(`SELECT balance_nano::text AS v FROM balances WHERE account_id = $1`, ['thrifty']))!)).toBe(3_000_000_000n - spent);
    expect(BigInt((await one(`SELECT min(balance_after_nano)::text AS v FROM ledger WHERE account_id = $1`, ['thrifty']))!)).toBeGreaterThanOrEqual(0n);
  }, 120_000);

  it('an account out of money is refused in each caller’s protocol: OpenAI SDK, Anthropic billing_error, Gemini RESOURCE_EXHAUSTED', async () => {
    await createAccount('broke', '0');
    const { key } = await createKey('broke');
    const openai = new OpenAI({ baseURL: `${stack.ingressUrl}/v1`, apiKey: key, maxRetries: 0 });
    const e1 = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(OpenAI.APIError);
    expect(e1).toMatchObject({ status: 402, code: 'insufficient_quota', type: 'insufficient_quota' });
    const anthropic = new Anthropic({ baseURL: stack.ingressUrl, apiKey: key, maxRetries: 0 });
    const e2 = await anthropic.messages.create({ model: 'gpt-4o-mini', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(Anthropic.APIError);
    expect(e2).toMatchObject({ status: 402, error: { type: 'error', error: { type: 'billing_error' } } });
    const genai = new GoogleGenAI({ apiKey: key, httpOptions: { baseUrl: stack.ingressUrl } });
    const e3 = (await genai.models.generateContent({ model: 'gpt-4o-mini', contents: 'x' }).catch((e: unknown) => e)) as { status?: number; message?: string };
    expect(e3.status).toBe(402);
    expect(e3.message).toMatch(/RESOURCE_EXHAUSTED/);
    // Nothing reached the books; operators see the refusals.
    expect(await one(`SELECT count(*)::text AS v FROM ledger WHERE account_id = $1 AND kind = 'usage'`, ['broke'])).toBe('0');
    const metrics = await (await fetch(`${stack.ingressUrl}/metrics`)).text();
    expect(metrics).toMatch(/switchyard_spend_refusals_total\{[^}]*reason="insufficient_balance"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/switchyard_spend_lease_requests_total\{[^}]*result="added"[^}]*\} [1-9]/);
  }, 60_000);

  it('a per-key daily budget holds under 200 concurrent requests over two replicas, with its own 402 code', async () => {
    await createAccount('budgeted', '100.00');
    const { key, id } = await createKey('budgeted', ['--budget-usd-per-day', '0.60']);
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => chat(i % 2 === 0 ? stack.ingressUrl : second.url, key)));
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 402);
    expect(ok.length + refused.length).toBe(200);
    expect(ok.length).toBeGreaterThanOrEqual(5);
    expect(ok.length).toBeLessThanOrEqual(20);
    for (const r of refused) {
      expect(r.body.error).toMatchObject({ type: 'insufficient_quota', code: 'daily_budget_exceeded' });
      expect(r.body.error!.message).toMatch(/daily budget of \$0\.60/);
    }
    await waitBooked('budgeted', ok.length);
    const spentToday = BigInt(
      (await one(`SELECT coalesce(-sum(amount_nano), 0)::text AS v FROM ledger WHERE key_id = $1 AND kind = 'usage' AND occurred_at >= date_trunc('day', now() at time zone 'UTC') at time zone 'UTC'`, [id]))!,
    );
    expect(spentToday).toBeGreaterThan(0n);
    expect(spentToday).toBeLessThanOrEqual(600_000_000n);
  }, 120_000);

  it('every end path gives its hold back: upstream errors, mid-stream breaks and client aborts never starve the account', async () => {
    await createAccount('steady', '0.10'); // three worst cases at most
    const { key } = await createKey('steady');
    try {
      fake.setBehavior({ failStatus: 500 });
      for (let i = 0; i < 8; i++) expect((await chat(stack.ingressUrl, key)).status).toBeGreaterThanOrEqual(500);
      fake.setBehavior({ hang: true });
      for (let i = 0; i < 8; i++) {
        const ac = new AbortController();
        const p = fetch(`${stack.ingressUrl}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          body: JSON.stringify({ model: 'gpt-4o-mini', max_tokens: MAX_TOKENS, messages: [{ role: 'user', content: 'hang up' }] }),
          signal: ac.signal,
        }).catch(() => null);
        await new Promise((r) => setTimeout(r, 150));
        ac.abort();
        await p;
      }
      fake.setBehavior({ chunks: 3, breakAfterChunks: 1 });
      const broken = await fetch(`${stack.ingressUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ model: 'gpt-4o-mini', max_tokens: MAX_TOKENS, stream: true, messages: [{ role: 'user', content: 'break' }] }),
      });
      expect(broken.status).toBe(200);
      expect(await broken.text()).toContain('stream_interrupted');
    } finally {
      fake.setBehavior({ chunks: 3 });
    }
    // Give the aborted requests a moment to close their books.
    await new Promise((r) => setTimeout(r, 500));
    expect((await chat(stack.ingressUrl, key)).status).toBe(200);
    expect((await chat(stack.ingressUrl, key)).status).toBe(200);
  }, 60_000);

  it('embeddings and legacy completions are held too', async () => {
    await createAccount('broke-too', '0');
    const { key } = await createKey('broke-too');
    for (const [path, body] of [
      ['/v1/embeddings', { model: 'gpt-4o-mini', input: 'embed me' }],
      ['/v1/completions', { model: 'gpt-4o-mini', prompt: 'complete me', max_tokens: 3 }],
    ] as const) {
      const r = await fetch(`${stack.ingressUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify(body) });
      expect(r.status).toBe(402);
      expect(await r.json()).toMatchObject({ error: { type: 'insufficient_quota', code: 'insufficient_quota' } });
    }
  }, 30_000);

  it('a small balance held by one busy replica moves to another that was refused (the busy one is asked to trim)', async () => {
    await createAccount('shared', '0.45'); // under one slice: the first replica to ask takes it all
    const { key } = await createKey('shared');
    expect((await chat(second.url, key)).status).toBe(200);
    expect((await chat(stack.ingressUrl, key)).status).toBe(402);
    // The second replica stays busy (so its lease is renewed, never idle) while the first keeps asking.
    let busy = true;
    const traffic = (async () => {
      while (busy) {
        await chat(second.url, key);
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    let served = false;
    const until = Date.now() + 10_000;
    while (!served && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 300));
      served = (await chat(stack.ingressUrl, key)).status === 200;
    }
    busy = false;
    await traffic;
    expect(served).toBe(true);
  }, 60_000);

  it('a replica killed with a lease: the lease expires and another replica spends its allowance', async () => {
    await createAccount('phoenix', '0.30'); // about 10 requests, all leased to one replica at once
    const { key } = await createKey('phoenix');
    expect((await chat(second.url, key)).status).toBe(200);
    const blocked = await chat(stack.ingressUrl, key);
    expect(blocked.status).toBe(402);
    await second.kill();
    // Billing's lease TTL (3 s) and grace (2 s) here; then the allowance is free again.
    const until = Date.now() + 20_000;
    let after = await chat(stack.ingressUrl, key);
    while (after.status !== 200 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 500));
      after = await chat(stack.ingressUrl, key);
    }
    expect(after.status).toBe(200);
    let more = 0;
    for (let i = 0; i < 12; i++) if ((await chat(stack.ingressUrl, key)).status === 200) more++;
    // The rest of the $0.30 (minus the two requests already served) is spendable here, and no more.
    expect(more).toBeGreaterThanOrEqual(6);
    expect(more).toBeLessThanOrEqual(8);
  }, 60_000);
});
