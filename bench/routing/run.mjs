// Routing-quality table: scripted scenarios against fake providers over HTTP,
// through the whole stack, for single-channel, race, fallback and smart.
// Prints one table (and writes it to docs/routing.md with --write):
// mean and p95 latency, success rate, upstream calls per request and cost
// per request, plus, for the changing-world scenario, where smart sent
// traffic after each change.
//
//   npm run build && node bench/routing/run.mjs [--requests 300] [--concurrency 8] [--phase-seconds 30] [--write]
//
// Uses (and resets) the *test* databases, like the end-to-end tests.
import { createRequire } from 'node:module';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { startFakeOpenAIProcess } from './fake-process.mjs';

const require = createRequire(import.meta.url);
const { startStack, clickhouseQuery } = require('../../libs/testkit/dist/index.js');

const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '300' },
    concurrency: { type: 'string', default: '8' },
    'phase-seconds': { type: 'string', default: '30' },
    write: { type: 'boolean', default: false },
  },
});
const REQUESTS = Number(args.requests);
const CONCURRENCY = Number(args.concurrency);
const PHASE_MS = Number(args['phase-seconds']) * 1000;

// Three channels: cheap and slow, middling, fast and dear (USD per 1M tokens).
const CHANNELS = {
  cheap: { price: ['0.10', '0.40'], behavior: { latencyMs: 300, latencyJitterMs: 150, chunks: 20 } },
  mid: { price: ['0.15', '0.60'], behavior: { latencyMs: 150, latencyJitterMs: 75, chunks: 20 } },
  fast: { price: ['0.50', '1.50'], behavior: { latencyMs: 60, latencyJitterMs: 30, chunks: 20 } },
};
const MODES = {
  single: 'mode=fallback;channels=mid;fallbacks=off',
  // The fastest channel alone: the yardstick for race ("within 10% of the fastest channel").
  'single (fast)': 'mode=fallback;channels=fast;fallbacks=off',
  race: 'mode=race;race=3',
  fallback: 'mode=fallback',
  smart: 'mode=smart',
  'smart (balanced)': 'mode=smart;preset=balanced',
};
// Every cell routes its own model, so no cell inherits another's channel health
// (a breaker opened by "one hard down" would otherwise still be open in the next cell).
const SCENARIOS = ['1 three healthy', '2 one hard down', '3 one failing 30%'];
const modelOf = (scenario, mode) => `m${SCENARIOS.indexOf(scenario) + 1}-${Object.keys(MODES).indexOf(mode)}`;
const WORLD_MODEL = 'm4';
const MODELS = [...SCENARIOS.flatMap((sc) => Object.keys(MODES).map((mode) => modelOf(sc, mode))), WORLD_MODEL];
// Scenario 4 scores price too, so that a price change can move traffic (the default preset barely weighs price).
const CHANGING_WORLD_ROUTE = MODES['smart (balanced)'];

function pct(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function runLoad(stack, route, n, model) {
  const results = [];
  let next = 0;
  async function worker() {
    while (next < n) {
      next++;
      const t0 = performance.now();
      let status = 0;
      let id = '';
      try {
        const r = await fetch(`${stack.ingressUrl}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.apiKey}`, 'x-switchyard-route': route },
          body: JSON.stringify({ model, messages: [{ role: 'user', content: 'route this request please' }] }),
        });
        status = r.status;
        id = r.headers.get('x-request-id') ?? '';
        await r.arrayBuffer();
      } catch {
        status = 0;
      }
      results.push({ ms: performance.now() - t0, ok: status === 200, id, at: Date.now() });
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return results;
}

async function rowsFor(stack, ids) {
  const db = stack.urls.clickhouseDatabase;
  const rows = [];
  for (let i = 0; i < ids.length; i += 500) {
    const list = ids.slice(i, i + 500).filter(Boolean).map((id) => `'${id.replace(/[^0-9a-f-]/g, '')}'`).join(',');
    if (!list) continue;
    const out = await clickhouseQuery(
      stack.urls.clickhouseUrl,
      `SELECT request_id, channel_id, toString(cost_nano) AS cost_nano, attempt_count, occurred_at FROM ${db}.usage_events WHERE request_id IN (${list}) FORMAT JSONEachRow`,
    );
    for (const l of out.split('\n')) if (l) rows.push(JSON.parse(l));
  }
  return rows;
}

async function waitRows(stack, ids) {
  const want = ids.filter(Boolean).length;
  for (let i = 0; i < 60; i++) {
    const rows = await rowsFor(stack, ids);
    if (rows.length >= want) return rows;
    await new Promise((r) => setTimeout(r, 500));
  }
  return rowsFor(stack, ids);
}

function summarize(results, rows, calls) {
  const ms = results.map((r) => r.ms).sort((a, b) => a - b);
  const ok = results.filter((r) => r.ok).length;
  const cost = rows.reduce((s, r) => s + Number(r.cost_nano), 0);
  return {
    mean: ms.reduce((s, v) => s + v, 0) / ms.length,
    p95: pct(ms, 95),
    success: ok / results.length,
    calls: calls / results.length,
    costUsd: cost / results.length / 1e9,
  };
}

async function freshWorld(fakes) {
  for (const [name, f] of Object.entries(fakes)) {
    await f.setBehavior(CHANNELS[name].behavior);
    await f.reset();
  }
}

async function received(fakes) {
  let n = 0;
  for (const f of Object.values(fakes)) n += (await f.stats()).received;
  return n;
}

async function main() {
  const fakes = {};
  for (const name of Object.keys(CHANNELS)) fakes[name] = await startFakeOpenAIProcess(CHANNELS[name].behavior);
  const channels = Object.entries(CHANNELS).map(([id, c], i) => ({
    id,
    baseUrl: fakes[id].url,
    priority: i + 1, // cheap first, as an operator optimising cost would order them
    models: MODELS.map((model) => ({ model, inputUsdPerMtok: c.price[0], outputUsdPerMtok: c.price[1] })),
  }));
  const stack = await startStack({ channels, balanceUsd: '100000.00', env: { ingress: { LOG_LEVEL: 'error' }, stats: { STATS_BATCH_WAIT_MS: '1000' } } });
  const table = [];
  const scenarios = {
    '1 three healthy': () => {},
    '2 one hard down': () => fakes.fast.setBehavior({ failStatus: 503 }),
    '3 one failing 30%': () => fakes.mid.setBehavior({ ...CHANNELS.mid.behavior, failRate: 0.3, failStatus: 500 }),
  };
  try {
    for (const [scenario, setup] of Object.entries(scenarios)) {
      for (const [mode, route] of Object.entries(MODES)) {
        await freshWorld(fakes);
        await setup();
        const before = await received(fakes);
        const results = await runLoad(stack, route, REQUESTS, modelOf(scenario, mode));
        const calls = (await received(fakes)) - before;
        const rows = await waitRows(stack, results.map((r) => r.id));
        const s = summarize(results, rows, calls);
        table.push({ scenario, mode, ...s });
        console.error(`${scenario} / ${mode}: mean ${s.mean.toFixed(0)} ms, success ${(s.success * 100).toFixed(2)}%`);
      }
    }
    const world = await changingWorld(stack, fakes);
    const fmt = (v, d = 0) => (Number.isFinite(v) ? v.toFixed(d) : '-');
    const lines = [
      '| scenario | mode | mean ms | p95 ms | success | upstream calls / request | cost / request (USD) |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
      ...table.map((r) => `| ${r.scenario} | ${r.mode} | ${fmt(r.mean)} | ${fmt(r.p95)} | ${(r.success * 100).toFixed(2)}% | ${fmt(r.calls, 2)} | ${r.costUsd.toFixed(9)} |`),
    ];
    const out = [
      `Routing quality — ${REQUESTS} requests per cell at concurrency ${CONCURRENCY}, node ${process.version}.`,
      'Channels: cheap (300±150 ms, $0.10/$0.40), mid (150±75 ms, $0.15/$0.60), fast (60±30 ms, $0.50/$1.50); single = mid only, single (fast) = fast only.',
      '',
      ...lines,
      '',
      'Scenario 4, a changing world (smart, balanced preset): share of requests served by each channel, per phase.',
      '',
      ...world,
    ].join('\n');
    console.log(out);
    if (args.write) writeRouting(out);
  } finally {
    await stack.stop();
    for (const f of Object.values(fakes)) await f.close();
  }
}

/** Scenario 4: phases of a changing world under steady smart traffic; shares per channel per slice. */
async function changingWorld(stack, fakes) {
  await freshWorld(fakes);
  // Each change hits the channel smart currently favours (or makes a new one);
  // the recovered channel is slower than the one serving meanwhile, so its
  // comeback is seen by an early probe that loses its race and runs on.
  const phases = [
    ['steady', PHASE_MS, () => {}],
    ['fast (the favourite) gets slow: 1.5 s', PHASE_MS, () => fakes.fast.setBehavior({ ...CHANNELS.fast.behavior, latencyMs: 1500 })],
    ['cheap gets cheaper: $0.02/$0.08', PHASE_MS, async () => {
      await stack.admin(['set-price', '--channel', 'cheap', '--model', WORLD_MODEL, '--input-usd-per-mtok', '0.02', '--output-usd-per-mtok', '0.08']);
    }],
    ['cheap (now the favourite) goes down (503)', PHASE_MS, () => fakes.cheap.setBehavior({ failStatus: 503 })],
    ['cheap comes back', Math.max(PHASE_MS, 60_000), () => fakes.cheap.setBehavior(CHANNELS.cheap.behavior)],
  ];
  const lines = ['| phase | slice | requests | cheap | mid | fast | success |', '| --- | --- | ---: | ---: | ---: | ---: | ---: |'];
  for (const [name, phaseMs, change] of phases) {
    await change();
    const started = Date.now();
    const all = [];
    while (Date.now() - started < phaseMs) all.push(...(await runLoad(stack, CHANGING_WORLD_ROUTE, CONCURRENCY * 2, WORLD_MODEL)));
    const rows = await waitRows(stack, all.map((r) => r.id));
    const byId = new Map(rows.map((r) => [r.request_id, r]));
    const sliceMs = 10_000;
    for (let t = 0; t < phaseMs; t += sliceMs) {
      const slice = all.filter((r) => r.at - started >= t && r.at - started < t + sliceMs);
      const served = { cheap: 0, mid: 0, fast: 0 };
      for (const r of slice) {
        const row = byId.get(r.id);
        if (r.ok && row) served[row.channel_id]++;
      }
      const n = slice.length || 1;
      const share = (k) => `${((100 * served[k]) / n).toFixed(0)}%`;
      lines.push(`| ${name} | ${t / 1000}–${(t + sliceMs) / 1000}s | ${slice.length} | ${share('cheap')} | ${share('mid')} | ${share('fast')} | ${((100 * slice.filter((r) => r.ok).length) / n).toFixed(1)}% |`);
    }
  }
  return lines;
}

function writeRouting(table) {
  const path = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '../../docs/routing.md');
  // Only the generated tables are replaced: the hand-written reading and the sections after it stay.
  const old = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const kept = old.includes('\n## Reading it') ? old.slice(old.indexOf('\n## Reading it')) : '';
  writeFileSync(
    path,
    `# Routing quality\n\nMade by \`npm run build && node bench/routing/run.mjs --write\` on the 2-core development machine; rerun it after a routing change.\n\n${table}\n${kept}`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
