import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI, type FakeProvider } from '@switchyard/fake-provider';
import { freePort, ServiceProcess, startStack, type Stack } from '@switchyard/testkit';

let fake: FakeProvider;
let stack: Stack;
let second: ServiceProcess;

/** Limits count per clock minute: keep a test's requests inside one window. */
async function awayFromWindowEdge(needMs = 10_000): Promise<void> {
  const intoWindow = Date.now() % 60_000;
  if (intoWindow > 60_000 - needMs) await new Promise((r) => setTimeout(r, 60_000 - intoWindow + 50));
}

async function createKey(limits: string[]): Promise<string> {
  const out = JSON.parse(await stack.admin(['create-key', '--account', stack.accountId, '--name', `limited-${limits.join('-')}`, ...limits, '--json'])) as { key: string };
  return out.key;
}

async function call(base: string, key: string) {
  const r = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'count me' }] }),
  });
  const body = (await r.json()) as { error?: { type: string; code: string } };
  return { status: r.status, headers: r.headers, body };
}

beforeAll(async () => {
  fake = await startFakeOpenAI({ behavior: { chunks: 3 } });
  stack = await startStack({
    channels: [{ id: 'c', baseUrl: fake.url, models: [{ model: 'gpt-4o-mini', inputUsdPerMtok: '0.15', outputUsdPerMtok: '0.60' }] }],
  });
  // A second ingress replica on the same NATS: limits are per key across both.
  const port = await freePort();
  second = new ServiceProcess('ingress', port, { ...stack.env, INGRESS_PORT: String(port) });
  await second.start();
});

afterAll(async () => {
  await second?.stop();
  await stack?.stop();
  await fake?.close();
});

describe('per-key rate limits across ingress replicas', () => {
  it('admits exactly the RPM across two replicas, then 429 with Retry-After and rate-limit headers', async () => {
    const key = await createKey(['--rpm', '6']);
    await awayFromWindowEdge();
    const results = [];
    for (let i = 0; i < 12; i++) results.push(await call(i % 2 === 0 ? stack.ingressUrl : second.url, key));
    const ok = results.filter((r) => r.status === 200);
    const limited = results.filter((r) => r.status === 429);
    expect(ok).toHaveLength(6);
    expect(limited).toHaveLength(6);
    expect(ok[0]!.headers.get('x-ratelimit-limit-requests')).toBe('6');
    const first429 = limited[0]!;
    expect(Number(first429.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(first429.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect(first429.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(first429.body.error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded' });
  });

  it('never admits more than the limit under concurrent load on both replicas', async () => {
    const key = await createKey(['--rpm', '40']);
    await awayFromWindowEdge();
    const results = await Promise.all(Array.from({ length: 80 }, (_, i) => call(i % 2 === 0 ? stack.ingressUrl : second.url, key)));
    const ok = results.filter((r) => r.status === 200).length;
    expect(ok).toBeLessThanOrEqual(40);
    // Each replica may hold back at most one unused slice (a twentieth of the limit).
    expect(ok).toBeGreaterThanOrEqual(36);
    expect(results.filter((r) => r.status === 429).length).toBe(80 - ok);
  });

  it('stops a key at its tokens per minute once its usage is charged', async () => {
    const key = await createKey(['--tpm', '30']);
    await awayFromWindowEdge();
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await call(stack.ingressUrl, key)).status);
    expect(statuses[0], statuses.join(',')).toBe(200);
    expect(statuses).toContain(429);
    // Once refused, refused for the rest of the window.
    expect(statuses.slice(statuses.indexOf(429)).every((s) => s === 429), statuses.join(',')).toBe(true);
  });

  it('leaves keys without limits alone', async () => {
    const r = await call(stack.ingressUrl, stack.apiKey);
    expect(r.status).toBe(200);
    expect(r.headers.get('x-ratelimit-limit-requests')).toBeNull();
  });
});
