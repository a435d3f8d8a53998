import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { KvWatchInclude, Kvm } from '@nats-io/kv';
import { jetstream } from '@nats-io/jetstream';
import { connectNats, type NatsConnection } from '@switchyard/bus';
import { PLAN_BUCKET, PLAN_KEY, USAGE_SUBJECT_V1, routingPlanV1Schema, type RoutingPlanV1, type UsageEventV1 } from '@switchyard/contracts';
import { startFakeOpenAI, type FakeProvider } from '@switchyard/fake-provider';
import { ServiceProcess, clickhouseQuery, freePort, startStack, type Stack } from '@switchyard/testkit';

// The router's cluster-wide channel state: fed by every ingress's usage
// events through its durable consumer, carried in the plan as per-candidate
// health at a bounded rate, and rebuilt from ClickHouse when the router restarts.

interface ChannelsBody {
  channels: Array<{
    channel_id: string;
    model: string;
    stats: { requests: number; successes: number; failures: number; window_success_rate: number | null; ema_ttft_ms: number | null; last_error_class: string | null };
  }>;
}

const HEALTH_PUBLISH_MS = 700;
let fake: FakeProvider;
let stack: Stack;
let nc: NatsConnection;

// Runs after heavy suites (ClickHouse merging on two cores): allow catching up.
vi.setConfig({ testTimeout: 180_000 });

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const channels = async (url = stack.services.router.url) => (await (await fetch(`${url}/v1/router/channels`)).json()) as ChannelsBody;
const pair = (body: ChannelsBody, channel: string, model: string) => body.channels.find((c) => c.channel_id === channel && c.model === model);

async function planInBucket(): Promise<RoutingPlanV1> {
  const kv = await new Kvm(nc).open(PLAN_BUCKET);
  const e = await kv.get(PLAN_KEY);
  return routingPlanV1Schema.parse(e!.json());
}

async function chat(): Promise<number> {
  const r = await fetch(`${stack.ingressUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.apiKey}` },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] }),
  });
  await r.arrayBuffer();
  return r.status;
}

function failedEvent(requestId: string): UsageEventV1 {
  return {
    schema: 'usage.v1',
    request_id: requestId,
    occurred_at: new Date().toISOString(),
    trace_id: null,
    key_id: 'k1',
    account_id: 'acme',
    model_requested: 'gpt-4o-mini',
    model_served: '',
    channel_id: '',
    provider: '',
    route_mode: 'fallback',
    stream: false,
    status: 'error',
    http_status: 503,
    error_class: 'transient',
    attempts: [{ channel_id: 'elsewhere', provider: 'openai', status: 502, error_class: 'transient', started_after_ms: 0, latency_ms: 40, ttft_ms: null }],
    usage: { input_tokens: 0, output_tokens: 0, cached_input_tokens: 0, reasoning_tokens: 0 },
    usage_estimated: false,
    ttft_ms: null,
    latency_ms: 45,
    tokens_per_second: null,
    price: { input_nano_per_mtok: 0, output_nano_per_mtok: 0, cached_input_nano_per_mtok: 0 },
    cost_nano: 0,
  };
}

beforeAll(async () => {
  fake = await startFakeOpenAI({ behavior: { chunks: 4, chunkText: 'hi ' } });
  stack = await startStack({
    channels: [{ id: 'fast', baseUrl: fake.url, models: [{ model: 'gpt-4o-mini', inputUsdPerMtok: '1', outputUsdPerMtok: '2' }] }],
    env: { router: { ROUTER_HEALTH_PUBLISH_MS: String(HEALTH_PUBLISH_MS) }, stats: { STATS_BATCH_WAIT_MS: '1000' } },
  });
  nc = await connectNats(stack.urls.natsUrl, 'router-channel-state-test');
});

afterAll(async () => {
  await nc?.drain();
  await stack?.stop();
  await fake?.close();
});

describe('router channel state', () => {
  it('learns from the usage events of requests through ingress and pushes the health in the plan', async () => {
    const before = await planInBucket();
    expect(before.models['gpt-4o-mini']!.candidates[0]!.health).toBeUndefined();

    for (let i = 0; i < 3; i++) expect(await chat()).toBe(200);

    const fast = await waitFor('three requests on fast in the router', async () => {
      const p = pair(await channels(), 'fast', 'gpt-4o-mini');
      return p && p.stats.requests === 3 ? p : undefined;
    });
    expect(fast.stats.successes).toBe(3);
    expect(fast.stats.window_success_rate).toBe(1);
    expect(fast.stats.ema_ttft_ms).not.toBeNull();

    // Within the publish interval (plus a little), the plan in the bucket carries it, with a newer version and the same routing.
    const started = Date.now();
    const plan = await waitFor('health in the plan', async () => {
      const p = await planInBucket();
      return p.models['gpt-4o-mini']!.candidates[0]!.health?.requests === 3 ? p : undefined;
    });
    expect(Date.now() - started).toBeLessThan(HEALTH_PUBLISH_MS + 3_000);
    expect(plan.version).toBeGreaterThan(before.version);
    const c = plan.models['gpt-4o-mini']!.candidates[0]!;
    expect(c.channel_id).toBe('fast');
    expect(c.health).toMatchObject({ successes: 3, failures: 0, window_success_rate: 1 });
    expect(c.health!.p95_ttft_ms).toBeGreaterThanOrEqual(0);
    const { health: _h, ...routing } = c;
    expect(routing).toEqual((({ health: _x, ...r }) => r)(before.models['gpt-4o-mini']!.candidates[0]!));

    // Health changes alone are not routing changes: the publish counter of routing plans did not move.
    const metrics = await (await fetch(`${stack.services.router.url}/metrics`)).text();
    expect(metrics).toMatch(/switchyard_routing_plan_publishes_total\{service="router"\} 1\n/);
    expect(metrics).toMatch(/switchyard_routing_plan_health_publishes_total\{service="router"\} [1-9]/);
    expect(metrics).toContain('switchyard_router_channel_success_rate{channel="fast",model="gpt-4o-mini",service="router"} 1');
  });

  it('counts a failure published to the usage stream by any ingress, once even when redelivered', async () => {
    const js = jetstream(nc);
    const ev = JSON.stringify(failedEvent('0190c6d8-0000-7000-8000-00000000f001'));
    await js.publish(USAGE_SUBJECT_V1, ev, { msgID: 'router-state-f001' });
    const elsewhere = await waitFor('the failure on elsewhere', async () => pair(await channels(), 'elsewhere', 'gpt-4o-mini'));
    expect(elsewhere.stats).toMatchObject({ requests: 1, failures: 1, window_success_rate: 0, last_error_class: 'transient' });
    // The same request again under another message id (a republish the stream cannot deduplicate), then a new one.
    await js.publish(USAGE_SUBJECT_V1, ev, { msgID: 'router-state-f001-again' });
    await js.publish(USAGE_SUBJECT_V1, JSON.stringify(failedEvent('0190c6d8-0000-7000-8000-00000000f002')), { msgID: 'router-state-f002' });
    const after = await waitFor('the second failure on elsewhere', async () => {
      const p = pair(await channels(), 'elsewhere', 'gpt-4o-mini');
      return p && p.stats.failures >= 2 ? p : undefined;
    });
    expect(after.stats).toMatchObject({ requests: 2, failures: 2 });
    // Not in the catalog: the plan has no candidate for it, so it stays out of the plan.
    expect((await planInBucket()).models['gpt-4o-mini']!.candidates.map((c) => c.channel_id)).toEqual(['fast']);
  });

  it('pushes health changes at a bounded rate while traffic keeps changing it', async () => {
    const kv = await new Kvm(nc).open(PLAN_BUCKET);
    const versions: number[] = [];
    const watch = await kv.watch({ key: PLAN_KEY, include: KvWatchInclude.UpdatesOnly });
    void (async () => {
      for await (const e of watch) if (e.operation === 'PUT') versions.push(routingPlanV1Schema.parse(e.json()).version);
    })();
    const started = Date.now();
    let sent = 0;
    while (Date.now() - started < 3 * HEALTH_PUBLISH_MS) {
      expect(await chat()).toBe(200);
      sent += 1;
    }
    // The router catches up with every request, and the plan follows within an interval.
    let seen: number | undefined;
    await waitFor(`every request in the router (3 + ${sent})`, async () => {
      seen = pair(await channels(), 'fast', 'gpt-4o-mini')?.stats.requests;
      return seen === 3 + sent ? true : undefined;
    }).catch((e: Error) => {
      throw new Error(`${e.message}; the router counted ${seen}`);
    });
    await waitFor('every request in the plan', async () => ((await planInBucket()).models['gpt-4o-mini']!.candidates[0]!.health?.requests === 3 + sent ? true : undefined));
    const elapsed = Date.now() - started;
    watch.stop();
    // Every request changed the health, yet the plan moved at most once per interval (plus the tick already due).
    expect(sent).toBeGreaterThan(5);
    expect(versions.length).toBeGreaterThan(0);
    expect(versions.length).toBeLessThanOrEqual(Math.floor(elapsed / HEALTH_PUBLISH_MS) + 2);
    expect(versions.length).toBeLessThan(sent);
    expect([...versions].sort((a, b) => a - b)).toEqual(versions);
  });

  it('a restarted router rebuilds the state from ClickHouse before any new traffic', async () => {
    const extra = pair(await channels(), 'fast', 'gpt-4o-mini')!.stats.requests - 3;
    await waitFor('every request in ClickHouse', async () => {
      const n = await clickhouseQuery(
        stack.urls.clickhouseUrl,
        `SELECT uniqExact(request_id) FROM \`${stack.urls.clickhouseDatabase}\`.usage_events FORMAT TabSeparated`,
      );
      return Number(n.trim()) === 5 + extra ? true : undefined;
    });
    // The durable consumer acked every event already: after the restart only ClickHouse can tell.
    await stack.services.router.stop();
    await stack.services.router.start();
    const body = await channels();
    const fast = pair(body, 'fast', 'gpt-4o-mini')?.stats;
    expect(fast).toMatchObject({ requests: 3 + extra, successes: 3 + extra, window_failures: 0 });
    // The 60 s success window holds only what ended in the last minute: after a slow catch-up it may be empty.
    expect([1, null]).toContain(fast?.window_success_rate);
    expect(pair(body, 'elsewhere', 'gpt-4o-mini')?.stats).toMatchObject({ requests: 2, failures: 2 });
    // And the rebuilt health is in the plan right after the start.
    const plan = await planInBucket();
    expect(plan.models['gpt-4o-mini']!.candidates[0]!.health?.requests).toBe(3 + extra);
  });

  it('starts empty, and still serves a plan, when ClickHouse is unreachable', async () => {
    const port = await freePort();
    const deadPort = await freePort();
    const router = new ServiceProcess('router', port, {
      ...stack.env,
      ROUTER_PORT: String(port),
      CLICKHOUSE_URL: `http://127.0.0.1:${deadPort}`,
      ROUTER_CLICKHOUSE_TIMEOUT_MS: '2000',
    });
    try {
      await router.start();
      expect((await channels(router.url)).channels).toEqual([]);
      const plan = (await (await fetch(`${router.url}/v1/router/plan`)).json()) as RoutingPlanV1;
      expect(plan.models['gpt-4o-mini']!.candidates[0]!.channel_id).toBe('fast');
      expect(router.logs()).toContain('could not rebuild channel state from ClickHouse');
    } finally {
      await router.stop();
    }
  });
});
