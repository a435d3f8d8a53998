import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI, type FakeProvider } from '@switchyard/fake-provider';
import { startStack, type Stack } from '@switchyard/testkit';
import { until } from '../support/until';

let fast: FakeProvider;
let slow: FakeProvider;
let broken: FakeProvider;
let unauthorized: FakeProvider;
let limited: FakeProvider;
let flaky: FakeProvider;
let steady: FakeProvider;
let stack: Stack;
const EARLY_PROBE_MS = 1_500;

const price = { inputUsdPerMtok: '1', outputUsdPerMtok: '2' };

async function chat(model: string, route?: unknown, headers: Record<string, string> = {}) {
  const started = Date.now();
  const r = await fetch(`${stack.ingressUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.apiKey}`, ...headers },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hello' }], ...(route ? { route } : {}) }),
  });
  const body = (await r.json()) as { choices?: Array<{ message: { content: string } }>; error?: { code: string; message: string } };
  return { status: r.status, body, ms: Date.now() - started, explain: r.headers.get('x-switchyard-explain') ?? '' };
}

/** flaky's breaker for the model 'recover', as the operator view shows it. */
async function breakerOf(): Promise<string | undefined> {
  const r = await fetch(`${stack.ingressUrl}/v1/switchyard/channels`, { headers: { authorization: `Bearer ${stack.apiKey}` } });
  const body = (await r.json()) as { data: Array<{ channel_id: string; model: string; health: { breaker?: { state: string } } }> };
  return body.data.find((c) => c.channel_id === 'flaky' && c.model === 'recover')?.health.breaker?.state;
}

beforeAll(async () => {
  fast = await startFakeOpenAI({ behavior: { chunks: 2, chunkText: 'fast ' } });
  slow = await startFakeOpenAI({ behavior: { latencyMs: 3_000, chunks: 2, chunkText: 'slow ' } });
  broken = await startFakeOpenAI({ behavior: { failStatus: 500 } });
  unauthorized = await startFakeOpenAI({ behavior: { failStatus: 401 } });
  limited = await startFakeOpenAI({ behavior: { failStatus: 429, retryAfterSeconds: 30 } });
  flaky = await startFakeOpenAI({ behavior: { failStatus: 503 } });
  steady = await startFakeOpenAI({ behavior: { latencyMs: 300, chunks: 2, chunkText: 'steady ' } });
  stack = await startStack({
    channels: [
      { id: 'fast', baseUrl: fast.url, priority: 3, models: ['hedged', 'breaker', 'auth', 'cooldown'].map((model) => ({ model, ...price })) },
      { id: 'slow', baseUrl: slow.url, priority: 1, models: [{ model: 'hedged', ...price }] },
      { id: 'broken', baseUrl: broken.url, priority: 1, models: [{ model: 'breaker', ...price }] },
      { id: 'unauthorized', baseUrl: unauthorized.url, priority: 1, models: [{ model: 'auth', ...price }] },
      { id: 'limited', baseUrl: limited.url, priority: 1, models: [{ model: 'cooldown', ...price }] },
      { id: 'flaky', baseUrl: flaky.url, priority: 1, models: [{ model: 'recover', ...price }] },
      { id: 'steady', baseUrl: steady.url, priority: 2, models: [{ model: 'recover', ...price }] },
    ],
    // The breaker's own timeout stays long (60 s): recovery below must come from early probes.
    env: { ingress: { INGRESS_BREAKER_OPEN_MS: '60000', INGRESS_BREAKER_EARLY_PROBE_MS: String(EARLY_PROBE_MS) } },
  });
});

afterAll(async () => {
  await stack?.stop();
  await Promise.all([fast, slow, broken, unauthorized, limited, flaky, steady].map((f) => f?.close()));
});

describe('smart routing', () => {
  it('hedges: when the first channel has no first byte in time, the next starts and the first to answer wins', async () => {
    const r = await chat('hedged', { mode: 'smart', order: ['slow', 'fast'] }, { 'x-switchyard-explain': '1' });
    expect(r.status).toBe(200);
    expect(r.body.choices![0]!.message.content).toBe('fast fast ');
    // The slow channel alone takes 3 s; the hedge starts at the first channel's p95 TTFT (a prior when cold).
    expect(r.ms).toBeLessThan(2_900);
    expect(r.explain).toContain('hedge=fast');
    // The slow channel was started first and aborted once the hedge won.
    expect(slow.stats().received).toBe(1);
    await new Promise((res) => setTimeout(res, 200));
    expect(slow.stats().aborted).toBe(1);
  });

  it('explains the decision when asked, and only then', async () => {
    const asked = await chat('hedged', undefined, { 'x-switchyard-explain': '1' });
    expect(asked.explain).toMatch(/mode=smart/);
    expect(asked.explain).toMatch(/fast/);
    const notAsked = await chat('hedged');
    expect(notAsked.explain).toBe('');
  });

  it('opens the breaker of a failing channel: after 5 consecutive failures it is no longer tried', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await chat('breaker', 'fallback');
      expect(r.status).toBe(200);
    }
    expect(broken.stats().received).toBe(5);
    const r = await chat('breaker', 'fallback', { 'x-switchyard-explain': '1' });
    expect(r.status).toBe(200);
    expect(broken.stats().received).toBe(5);
    expect(r.explain).toMatch(/broken[^;]*breaker_open|breaker_open[^;]*broken/);
  });

  it('takes a channel out after an auth failure, without waiting for five', async () => {
    expect((await chat('auth', 'fallback')).status).toBe(200);
    expect((await chat('auth', 'fallback')).status).toBe(200);
    expect(unauthorized.stats().received).toBe(1);
  });

  it('moves on at once from a 429 and honours Retry-After as a cooldown', async () => {
    const first = await chat('cooldown', 'fallback');
    expect(first.status).toBe(200);
    // No backoff wait after a 429: the next channel is tried at once.
    expect(first.ms).toBeLessThan(1_000);
    expect((await chat('cooldown', 'fallback')).status).toBe(200);
    expect(limited.stats().received).toBe(1);
  });

  it('refuses malformed routing preferences with a 400 naming the field', async () => {
    const r = await chat('hedged', { mode: 'smart', preset: 'cheapest-ever' });
    expect(r.status).toBe(400);
    expect(r.body.error!.code).toBe('invalid_route');
    expect(r.body.error!.message).toContain('route.preset');
  });

  it('notices a channel that came back within seconds, not the breaker’s 60 s: an early probe races it beside the healthy pick', async () => {
    // Five failures in priority order open flaky's breaker; steady serves every request meanwhile.
    for (let i = 0; i < 5; i++) expect((await chat('recover', 'fallback')).status).toBe(200);
    expect(await breakerOf()).toBe('open');
    flaky.setBehavior({ chunks: 2, chunkText: 'flaky ' });
    const seen = flaky.stats().received;

    // Before an early probe is due the open channel gets nothing.
    const early = await chat('recover', 'smart', { 'x-switchyard-explain': '1' });
    expect(early.body.choices![0]!.message.content).toBe('steady steady ');
    expect(early.explain).not.toContain('early_probe');
    expect(flaky.stats().received).toBe(seen);

    await new Promise((res) => setTimeout(res, EARLY_PROBE_MS + 100));
    // Due: the request goes to steady and, at the same time, to flaky; flaky answers first and serves it.
    const probed = await chat('recover', 'smart', { 'x-switchyard-explain': '1' });
    expect(probed.status).toBe(200);
    expect(probed.explain).toContain('early_probe=flaky');
    expect(probed.body.choices![0]!.message.content).toBe('flaky flaky ');
    expect(flaky.stats().received).toBe(seen + 1);
    expect(await breakerOf()).toBe('half_open');
    // The half-open channel is probed first by the next request, and closes (2 successes by default).
    const next = await chat('recover', 'smart');
    expect(next.body.choices![0]!.message.content).toBe('flaky flaky ');
    expect(await breakerOf()).toBe('closed');
  });

  it('a failed early probe costs the client nothing: the healthy channel answers, the breaker stays open', async () => {
    flaky.setBehavior({ failStatus: 503 });
    for (let i = 0; i < 5; i++) expect((await chat('recover', 'fallback')).status).toBe(200);
    const seen = flaky.stats().received;
    await new Promise((res) => setTimeout(res, EARLY_PROBE_MS + 100));
    const probed = await chat('recover', 'smart', { 'x-switchyard-explain': '1' });
    expect(probed.status).toBe(200);
    expect(probed.explain).toContain('early_probe=flaky');
    expect(probed.body.choices![0]!.message.content).toBe('steady steady ');
    expect(flaky.stats().received).toBe(seen + 1);
    // The next probe waits another interval; until then flaky gets nothing.
    expect((await chat('recover', 'smart')).body.choices![0]!.message.content).toBe('steady steady ');
    expect(flaky.stats().received).toBe(seen + 1);
  });

  it('an early probe that loses the race still runs to its answer: a recovered channel slower than the pick is noticed too', async () => {
    // flaky's breaker is open from the test before; it comes back, slower than steady.
    flaky.setBehavior({ latencyMs: 1_000, chunks: 2, chunkText: 'flaky ' });
    await new Promise((res) => setTimeout(res, EARLY_PROBE_MS + 100));
    const probed = await chat('recover', 'smart', { 'x-switchyard-explain': '1' });
    expect(probed.explain).toContain('early_probe=flaky');
    expect(probed.body.choices![0]!.message.content).toBe('steady steady ');
    await until('flaky half-open after its early probe answered', async () => ((await breakerOf()) === 'half_open' ? true : undefined), 5_000);
    expect(flaky.stats().completed).toBeGreaterThan(0);
    // Operators see every early probe and how it ended.
    const metrics = await (await fetch(`${stack.ingressUrl}/metrics`)).text();
    const count = (outcome: string) => Number(new RegExp(`^switchyard_breaker_early_probes_total\\{channel="flaky",model="recover",outcome="${outcome}"[^}]*\\} (\\d+)`, 'm').exec(metrics)?.[1] ?? 0);
    expect(count('answered')).toBe(2);
    expect(count('failed')).toBe(1);
  });

  it('shows operators each channel’s live state, breaker included', async () => {
    const r = await fetch(`${stack.ingressUrl}/v1/switchyard/channels`, { headers: { authorization: `Bearer ${stack.apiKey}` } });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { data: Array<{ channel_id: string; model: string; health: { breaker?: { state: string }; stats: { requests: number } | null } }> };
    const broken = body.data.find((c) => c.channel_id === 'broken' && c.model === 'breaker');
    expect(broken?.health.breaker?.state).toBe('open');
    const fastHedged = body.data.find((c) => c.channel_id === 'fast' && c.model === 'hedged');
    expect(fastHedged?.health.stats?.requests).toBeGreaterThan(0);
  });
});
