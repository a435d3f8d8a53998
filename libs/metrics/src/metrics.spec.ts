import { describe, expect, it } from 'vitest';
import {
  LabelLimiter,
  consumerLagMetrics,
  createMetricsRegistry,
  httpMetrics,
  httpMetricsHooks,
  ingestMetrics,
  keyCacheMetrics,
  ledgerMetrics,
  planMetrics,
  pollConsumerLag,
  renderMetrics,
  routingMetrics,
  statusClass,
  upstreamMetrics,
} from './index';

/** The value of one series in the text exposition (labels in any order), or undefined. */
function sample(body: string, series: string): number | undefined {
  const key = (s: string) => {
    const i = s.indexOf('{');
    if (i < 0) return s;
    const labels = s.slice(i + 1, s.lastIndexOf('}')).match(/[a-z_]+="(?:[^"\\]|\\.)*"/g) ?? [];
    return `${s.slice(0, i)}{${labels.sort().join(',')}}`;
  };
  const want = key(series);
  for (const line of body.split('\n')) {
    const sp = line.lastIndexOf(' ');
    if (sp > 0 && key(line.slice(0, sp)) === want) return Number(line.slice(sp + 1));
  }
  return undefined;
}

describe('metrics registry', () => {
  it('renders the Prometheus text format with the service label and process metrics', async () => {
    const reg = createMetricsRegistry({ service: 'stats' });
    keyCacheMetrics(reg).hit();
    const m = await renderMetrics(reg);
    expect(m.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(m.body).toContain('# TYPE switchyard_key_cache_lookups_total counter');
    expect(sample(m.body, 'switchyard_key_cache_lookups_total{result="hit",service="stats"}')).toBe(1);
    expect(m.body).toContain('process_cpu_user_seconds_total');
    expect(m.body).toContain('nodejs_eventloop_lag_seconds');
  });

  it('keeps two registries in one process apart', async () => {
    const a = createMetricsRegistry({ service: 'a', defaultMetrics: false });
    const b = createMetricsRegistry({ service: 'b', defaultMetrics: false });
    ingestMetrics(a).rowsInserted.inc({ sink: 'clickhouse' }, 5);
    ingestMetrics(b);
    expect(sample((await renderMetrics(a)).body, 'switchyard_ingest_rows_inserted_total{sink="clickhouse",service="a"}')).toBe(5);
    expect((await renderMetrics(b)).body).not.toContain('sink="clickhouse"');
  });
});

describe('HTTP metrics', () => {
  it('counts requests by route template and status class, and tracks in-flight', async () => {
    const reg = createMetricsRegistry({ service: 'ingress', defaultMetrics: false });
    const http = httpMetrics(reg);
    const end1 = http.start('POST', '/v1/chat/completions');
    const end2 = http.start('POST', '/v1/chat/completions');
    let body = (await renderMetrics(reg)).body;
    expect(sample(body, 'switchyard_http_requests_in_flight{method="POST",service="ingress"}')).toBe(2);
    end1(200);
    end2(503);
    end2(503); // a second end is ignored
    body = (await renderMetrics(reg)).body;
    expect(sample(body, 'switchyard_http_requests_in_flight{method="POST",service="ingress"}')).toBe(0);
    const ok = 'method="POST",route="/v1/chat/completions",status_class="2xx",service="ingress"';
    expect(sample(body, `switchyard_http_requests_total{${ok}}`)).toBe(1);
    expect(sample(body, `switchyard_http_requests_total{${ok.replace('2xx', '5xx')}}`)).toBe(1);
    expect(sample(body, `switchyard_http_request_duration_seconds_count{${ok}}`)).toBe(1);
  });

  it('hooks label by the matched route, not the URL, and skip /metrics', async () => {
    const reg = createMetricsRegistry({ service: 'stats', defaultMetrics: false });
    const hooks = httpMetricsHooks(httpMetrics(reg));
    const done = () => undefined;
    for (const id of ['a', 'b', 'c']) {
      const req = { method: 'GET', url: `/v1/stats/requests/${id}`, routeOptions: { url: '/v1/stats/requests/:requestId' } };
      hooks.onRequest(req, { statusCode: 0 }, done);
      hooks.onResponse(req, { statusCode: 404 }, done);
    }
    const scrape = { method: 'GET', routeOptions: { url: '/metrics' } };
    hooks.onRequest(scrape, { statusCode: 0 }, done);
    hooks.onResponse(scrape, { statusCode: 200 }, done);
    const body = (await renderMetrics(reg)).body;
    expect(
      sample(body, 'switchyard_http_requests_total{method="GET",route="/v1/stats/requests/:requestId",status_class="4xx",service="stats"}'),
    ).toBe(3);
    expect(body).not.toContain('route="/metrics"');
  });

  it('maps statuses to classes', () => {
    expect([200, 204, 301, 429, 503, 42, 700].map(statusClass)).toEqual(['2xx', '2xx', '3xx', '4xx', '5xx', 'other', 'other']);
  });
});

describe('gateway families', () => {
  it('records upstream attempts: requests, errors by class, tokens and TTFT of successes', async () => {
    const reg = createMetricsRegistry({ service: 'ingress', defaultMetrics: false });
    const up = upstreamMetrics(reg);
    up.observe({ provider: 'openai', channel: 'fast', model: 'gpt-4o-mini', ttftMs: 250, tokens: { input: 100, output: 20 } });
    up.observe({ provider: 'openai', channel: 'fast', model: 'gpt-4o-mini', errorClass: 'rate_limit', ttftMs: null });
    const body = (await renderMetrics(reg)).body;
    const l = 'provider="openai",channel="fast",model="gpt-4o-mini"';
    expect(sample(body, `switchyard_upstream_requests_total{${l},outcome="ok",service="ingress"}`)).toBe(1);
    expect(sample(body, `switchyard_upstream_requests_total{${l},outcome="error",service="ingress"}`)).toBe(1);
    expect(sample(body, 'switchyard_upstream_errors_total{provider="openai",channel="fast",error_class="rate_limit",service="ingress"}')).toBe(1);
    expect(sample(body, `switchyard_upstream_tokens_total{${l},kind="input",service="ingress"}`)).toBe(100);
    expect(sample(body, `switchyard_upstream_tokens_total{${l},kind="output",service="ingress"}`)).toBe(20);
    expect(sample(body, `switchyard_upstream_ttft_seconds_count{${l},service="ingress"}`)).toBe(1);
    expect(sample(body, `switchyard_upstream_ttft_seconds_sum{${l},service="ingress"}`)).toBe(0.25);
  });

  it('bounds label values: past the limit, new values become "other"', async () => {
    const reg = createMetricsRegistry({ service: 'ingress', defaultMetrics: false });
    const up = upstreamMetrics(reg, 3);
    for (let i = 0; i < 50; i++) up.observe({ provider: 'p', channel: 'c', model: `made-up-${i}` });
    const body = (await renderMetrics(reg)).body;
    const series = body.split('\n').filter((l) => l.startsWith('switchyard_upstream_requests_total{'));
    expect(series).toHaveLength(4);
    expect(sample(body, 'switchyard_upstream_requests_total{provider="p",channel="c",model="other",outcome="ok",service="ingress"}')).toBe(47);
    const lim = new LabelLimiter(1);
    expect([lim.value('a'), lim.value('b'), lim.value('a'), lim.value(''), lim.value('x'.repeat(300)).length]).toEqual(['a', 'other', 'a', 'none', 5]);
  });

  it('records breaker state, race winners and hedge waste in integer nano-USD', async () => {
    const reg = createMetricsRegistry({ service: 'ingress', defaultMetrics: false });
    const r = routingMetrics(reg);
    r.setBreaker('slow', 'gpt-4o', 'open');
    r.raceWon('fast', 'gpt-4o');
    r.hedgeLost('slow', 'gpt-4o', 1234);
    r.hedgeLost('slow', 'gpt-4o', 0);
    r.earlyProbe('slow', 'gpt-4o', 'answered');
    const body = (await renderMetrics(reg)).body;
    expect(sample(body, 'switchyard_breaker_early_probes_total{channel="slow",model="gpt-4o",outcome="answered",service="ingress"}')).toBe(1);
    expect(sample(body, 'switchyard_breaker_state{channel="slow",model="gpt-4o",service="ingress"}')).toBe(2);
    expect(sample(body, 'switchyard_race_winners_total{channel="fast",model="gpt-4o",service="ingress"}')).toBe(1);
    expect(sample(body, 'switchyard_hedge_lost_attempts_total{channel="slow",model="gpt-4o",service="ingress"}')).toBe(2);
    expect(sample(body, 'switchyard_hedge_waste_nano_usd_total{channel="slow",model="gpt-4o",service="ingress"}')).toBe(1234);
  });

  it('records plan publishing and ledger settlements', async () => {
    const reg = createMetricsRegistry({ service: 'billing', defaultMetrics: false });
    const p = planMetrics(reg);
    p.version.set(1700000000000);
    p.publishes.inc();
    p.refreshErrors.inc();
    const led = ledgerMetrics(reg);
    led.observe('settled', 0.004);
    led.observe('duplicate');
    const body = (await renderMetrics(reg)).body;
    expect(sample(body, 'switchyard_routing_plan_version{service="billing"}')).toBe(1700000000000);
    expect(sample(body, 'switchyard_routing_plan_publishes_total{service="billing"}')).toBe(1);
    expect(sample(body, 'switchyard_catalog_refresh_errors_total{service="billing"}')).toBe(1);
    expect(sample(body, 'switchyard_ledger_settlements_total{outcome="settled",service="billing"}')).toBe(1);
    expect(sample(body, 'switchyard_ledger_settlements_total{outcome="duplicate",service="billing"}')).toBe(1);
    expect(sample(body, 'switchyard_ledger_settle_duration_seconds_count{service="billing"}')).toBe(1);
  });

  it('polls consumer lag and keeps the last value when a read fails', async () => {
    const reg = createMetricsRegistry({ service: 'stats', defaultMetrics: false });
    const lag = consumerLagMetrics(reg);
    let fail = false;
    const poller = pollConsumerLag(lag, 'USAGE', 'stats', async () => {
      if (fail) throw new Error('timeout');
      return { num_pending: 42, num_ack_pending: 7, num_redelivered: 1 };
    }, 60_000);
    await poller.poll();
    fail = true;
    await poller.poll();
    poller.stop();
    const body = (await renderMetrics(reg)).body;
    const l = 'stream="USAGE",consumer="stats",service="stats"';
    expect(sample(body, `switchyard_jetstream_consumer_pending_messages{${l}}`)).toBe(42);
    expect(sample(body, `switchyard_jetstream_consumer_ack_pending_messages{${l}}`)).toBe(7);
    expect(sample(body, `switchyard_jetstream_consumer_info_errors_total{${l}}`)).toBe(1);
  });
});
