// Usage-event ingestion benchmark: publishes usage.v1 events to JetStream at
// a target rate with the bus's UsagePublisher, runs the stats service from
// its build as a child process, and measures in one run
//   - the rate of rows becoming visible in ClickHouse (events/s): over the
//     publishing past a warm-up (steady_ingest_rate), and over the whole run
//     including the drain after the last publish (sustained_ingest_rate),
//   - the end-to-end lag from an event's occurred_at (set when it is
//     published) to its row being visible to a SELECT, p50/p99.
// Lag is sampled by polling count() every 50 ms: the k-th published event is
// visible by the time count() >= k (the stats consumer is the only writer and
// keeps stream order), so lag_k <= t_poll - t_publish(k). Figures are upper
// bounds within one polling interval.
//
//   npm run build && node bench/clickhouse-ingest.mjs [--rate 20000] [--duration 20] [--batch 5000]
//
// Uses its own ClickHouse database (switchyard_bench_ingest, dropped first)
// and deletes and recreates the usage streams on NATS_URL: point NATS_URL at
// a NATS you may empty.
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';

const require = createRequire(import.meta.url);
const { ServiceProcess, freePort } = require('../libs/testkit/dist/index.js');
const { connectNats, ensureUsageTopology, UsagePublisher } = require('../libs/bus/dist/index.js');
const { USAGE_STREAM, USAGE_DLQ_STREAM } = require('../libs/contracts/dist/index.js');
const { jetstreamManager } = require('@nats-io/jetstream');

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '20000' },
    duration: { type: 'string', default: '20' },
    batch: { type: 'string', default: '5000' },
    'batch-wait-ms': { type: 'string', default: '1000' },
    // STATS_BATCH_MAX_SIZE (largest insert while behind); the service's default when absent.
    'batch-max': { type: 'string' },
  },
});
const RATE = Number(args.rate);
const DURATION_S = Number(args.duration);
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const CLICKHOUSE_URL = process.env.CLICKHOUSE_URL ?? 'http://127.0.0.1:8123';
const DB = process.env.BENCH_CLICKHOUSE_DATABASE ?? 'switchyard_bench_ingest';

async function ch(query) {
  const r = await fetch(`${CLICKHOUSE_URL}/?database=${encodeURIComponent(DB)}`, { method: 'POST', body: query });
  const text = await r.text();
  if (!r.ok) throw new Error(`ClickHouse: ${text.slice(0, 300)}`);
  return text.trim();
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : NaN);

function event(occurredAt) {
  return {
    schema: 'usage.v1',
    request_id: `req_${randomUUID().replace(/-/g, '')}`,
    occurred_at: occurredAt,
    trace_id: null,
    key_id: 'key_bench',
    account_id: `acct_${Math.floor(Math.random() * 50)}`,
    model_requested: 'gpt-4o-mini',
    model_served: 'gpt-4o-mini-2024-07-18',
    channel_id: `ch_${Math.floor(Math.random() * 8)}`,
    provider: 'openai',
    route_mode: 'smart',
    stream: true,
    status: 'ok',
    http_status: 200,
    error_class: null,
    attempts: [{ channel_id: 'ch_0', provider: 'openai', status: 200, error_class: null, started_after_ms: 0.3, latency_ms: 812.5, ttft_ms: 120.25 }],
    usage: { input_tokens: 1200, output_tokens: 345, cached_input_tokens: 200, reasoning_tokens: 0 },
    usage_estimated: false,
    ttft_ms: 120.25,
    latency_ms: 812.5,
    tokens_per_second: 497.1,
    price: { input_nano_per_mtok: 150_000_000, output_nano_per_mtok: 600_000_000, cached_input_nano_per_mtok: 75_000_000 },
    cost_nano: 372_000,
  };
}

async function main() {
  // A clean slate: bench database and usage streams.
  await fetch(`${CLICKHOUSE_URL}/`, { method: 'POST', body: `DROP DATABASE IF EXISTS \`${DB}\`` });
  const nc = await connectNats(NATS_URL, 'bench-ingest');
  const jsm = await jetstreamManager(nc);
  for (const s of [USAGE_STREAM, USAGE_DLQ_STREAM]) await jsm.streams.delete(s).catch(() => false);
  await ensureUsageTopology(jsm);

  const port = await freePort();
  const stats = new ServiceProcess('stats', port, {
    NATS_URL,
    CLICKHOUSE_URL,
    CLICKHOUSE_DATABASE: DB,
    STATS_PORT: String(port),
    STATS_HOST: '127.0.0.1',
    STATS_BATCH_SIZE: args.batch,
    STATS_BATCH_WAIT_MS: args['batch-wait-ms'],
    ...(args['batch-max'] ? { STATS_BATCH_MAX_SIZE: args['batch-max'] } : {}),
    LOG_LEVEL: 'warn',
    // e.g. SWITCHYARD_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the stats process.
    SWITCHYARD_NODE_ARGS: process.env.SWITCHYARD_NODE_ARGS ?? '',
  });
  await stats.start();
  // CPU the stats process spends on the run (its /metrics process_cpu_seconds_total), net of start-up.
  const statsCpu = async () => {
    const text = await (await fetch(`${stats.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('process_cpu_seconds_total'));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : NaN;
  };
  const cpuBefore = await statsCpu();

  const publisher = new UsagePublisher(nc, { maxInFlight: 2048, maxSpooled: RATE * 10 });
  const total = RATE * DURATION_S;
  const publishedAt = new Float64Array(total);
  const samples = []; // [t, visible count]
  let published = 0;
  let polling = true;
  // Events JetStream stored: the publisher can drop some when the machine is too loaded to publish at RATE.
  let expected = total;

  const poller = (async () => {
    while (polling) {
      const t = Date.now();
      const n = Number(await ch('SELECT count() FROM usage_events').catch(() => '0'));
      samples.push([t, n]);
      if (n >= expected) break;
      await sleep(50);
    }
  })();

  // Publish in 10 ms ticks, catching up if a tick ran late.
  const t0 = Date.now();
  while (published < total) {
    const due = Math.min(total, Math.floor(((Date.now() - t0) / 1000) * RATE));
    while (published < due) {
      const now = Date.now();
      publishedAt[published] = now;
      publisher.publish(event(new Date(now).toISOString()));
      published++;
    }
    await sleep(10);
  }
  const publishSeconds = (Date.now() - t0) / 1000;
  const flushed = await publisher.flush(120_000);
  const ackedSeconds = (Date.now() - t0) / 1000;
  expected = Number((await jsm.streams.info(USAGE_STREAM)).state.messages);

  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline && (samples.at(-1)?.[1] ?? 0) < expected) await sleep(100);
  polling = false;
  await poller;
  const visible = samples.at(-1)[1];
  // When the last row became visible (not when the bench stopped waiting).
  const tEnd = samples.find(([, n]) => n >= visible)[0];

  // Lag of the newest visible event at each poll, over the whole run.
  const lags = [];
  let prev = 0;
  for (const [t, n] of samples) {
    if (n > prev && n > 0) lags.push(t - publishedAt[Math.min(n, total) - 1]);
    prev = n;
  }
  lags.sort((a, b) => a - b);
  // Rows per second becoming visible during the publishing, past a 5 s warm-up:
  // what the consumer keeps up with (sustained_ingest_rate also counts the drain
  // after the last publish, so it stays under the target even with no backlog).
  const visibleAt = (t) => (samples.findLast(([ts]) => ts <= t) ?? [t0, 0])[1];
  const warmup = Math.min(5_000, (DURATION_S * 1000) / 4);
  const steadyRate = Math.round((visibleAt(t0 + DURATION_S * 1000) - visibleAt(t0 + warmup)) / ((DURATION_S * 1000 - warmup) / 1000));
  const dupes = Number(await ch('SELECT count() - uniqExact(request_id) FROM usage_events'));
  const metrics = await (await fetch(`${stats.url}/metrics`)).text();
  const metric = (name) => {
    const line = metrics.split('\n').find((l) => l.startsWith(name));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : NaN;
  };
  const batches = metric('switchyard_ingest_batch_size_count');
  const cpuSeconds = metric('process_cpu_seconds_total') - cpuBefore;

  const result = {
    target_rate: RATE,
    duration_s: DURATION_S,
    batch_size: Number(args.batch),
    events: total,
    stored_by_jetstream: expected,
    dropped_by_publisher: publisher.stats.dropped,
    publish_rate: Math.round(total / publishSeconds),
    all_acked_by_jetstream: flushed,
    jetstream_ack_rate: Math.round(total / ackedSeconds),
    visible_rows: visible,
    duplicate_rows: dupes,
    sustained_ingest_rate: Math.round(visible / ((tEnd - t0) / 1000)),
    steady_ingest_rate: steadyRate,
    lag_ms_p50: pct(lags, 50),
    lag_ms_p99: pct(lags, 99),
    lag_ms_max: lags.at(-1),
    lag_samples: lags.length,
    insert_batches: batches,
    mean_batch: Math.round(metric('switchyard_ingest_batch_size_sum') / batches),
    mean_insert_ms: Math.round((metric('switchyard_ingest_insert_duration_seconds_sum') / batches) * 1000),
    // Less sensitive to other load on the machine than the rates: what one event costs the stats process.
    stats_cpu_seconds: Math.round(cpuSeconds * 100) / 100,
    stats_cpu_us_per_event: Math.round((cpuSeconds * 1e6) / total),
  };
  console.log(JSON.stringify(result, null, 2));
  const ok = visible === total && expected === total && dupes === 0 && result.steady_ingest_rate >= 0.98 * RATE && RATE >= 20_000 && result.lag_ms_p99 < 2_000;
  console.log(ok ? 'target met: 20,000 events/s kept up with, p99 lag < 2 s' : 'target NOT met (20,000 events/s kept up with, p99 lag < 2 s)');

  await publisher.close();
  await stats.stop();
  await nc.drain();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
