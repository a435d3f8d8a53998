// Proxy overhead benchmark: the fake provider directly, a bare Node.js
// pass-through proxy, and Switchyard's ingress on its full path (key check,
// routing, usage event), at fixed concurrency, non-streaming and streaming.
// Prints requests/s, p50/p99 latency and CPU per request of the proxy process,
// and the ratios, all from one run on this machine.
//
//   npm run build && node bench/proxy-overhead.mjs [--duration 10] [--warmup 8] [--connections 50] [--chunks 20]
//
// Uses (and resets) the *test* databases, like the end-to-end tests.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';
import autocannon from 'autocannon';
import { request } from 'undici';

const require = createRequire(import.meta.url);
// Like `npm test`: NATS, PostgreSQL and ClickHouse up, the test database there.
execFileSync('bash', ['deploy/local/ensure-infra.sh'], {
  stdio: ['ignore', 'ignore', 'inherit'],
  env: { ...process.env, DATABASE_URL: process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/switchyard_test' },
});
const { startStack, freePort, waitForHttp } = require('../libs/testkit/dist/index.js');

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    // The ingress needs ~10 s of load before its CPU per request settles (V8 optimises its code on a
    // thread that shares the pinned core, counted in the process's CPU): a 2 s warm-up read 760 µs
    // per request where 8 s read 355.
    warmup: { type: 'string', default: '8' },
    connections: { type: 'string', default: '50' },
    chunks: { type: 'string', default: '20' },
    'ttfb-requests': { type: 'string', default: '300' },
  },
});
const DURATION = Number(args.duration);
const WARMUP = Number(args.warmup);
const CONNECTIONS = Number(args.connections);
const CHUNKS = Number(args.chunks);
const TICKS_PER_SEC = 100; // Linux USER_HZ

const children = [];
function child(name, cmd, argv, pinCpu) {
  const [c, a] = pinCpu !== undefined ? ['taskset', ['-c', String(pinCpu), cmd, ...argv]] : [cmd, argv];
  const p = spawn(c, a, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(p);
  return p;
}
/** CPU seconds (user + system) a process has used, from /proc. */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SEC;
}
/** taskset wraps the real process: the measured pid is taskset's exec'd child — the same pid. */

async function load(url, apiKey, stream, pid) {
  const body = JSON.stringify({
    model: 'gpt-4o-mini',
    stream,
    messages: [{ role: 'user', content: 'Benchmark me, please.' }],
  });
  const opts = {
    url: `${url}/chat/completions`,
    method: 'POST',
    connections: CONNECTIONS,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    body,
  };
  await autocannon({ ...opts, duration: WARMUP }); // warm-up: JIT, pools, caches
  const cpu0 = pid ? cpuSeconds(pid) : 0;
  const r = await autocannon({ ...opts, duration: DURATION });
  const cpu1 = pid ? cpuSeconds(pid) : 0;
  const ok = r.requests.total - r.non2xx - r.errors;
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.non2xx + r.errors,
    cpuUsPerReq: pid && ok > 0 ? ((cpu1 - cpu0) * 1e6) / r.requests.total : null,
  };
}

/** Time to first body byte of a stream at concurrency 1, median over n requests. */
async function ttfb(url, apiKey, n) {
  const body = JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'first byte' }] });
  const times = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    const res = await request(`${url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
      body,
    });
    for await (const chunk of res.body) {
      if (times.length === i && chunk.length > 0) times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

async function main() {
  const fakePort = await freePort();
  child('fake', process.execPath, ['libs/fake-provider/dist/main.js', '--port', String(fakePort), '--behavior', JSON.stringify({ chunks: CHUNKS })], 0);
  const fakeUrl = `http://127.0.0.1:${fakePort}/v1`;
  await waitForHttp(`${fakeUrl}/models`, 10_000);

  const barePort = await freePort();
  const bare = child('bare', process.execPath, ['bench/bare-proxy.mjs', String(barePort), fakeUrl], 1);
  const bareUrl = `http://127.0.0.1:${barePort}/v1`;
  await new Promise((r) => bare.stdout.once('data', r));

  const stack = await startStack({
    channels: [{ id: 'bench', baseUrl: fakeUrl, models: [{ model: 'gpt-4o-mini', inputUsdPerMtok: '0.15', outputUsdPerMtok: '0.60' }] }],
    balanceUsd: '1000000.00',
    // SWITCHYARD_NODE_ARGS (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`) profiles the ingress under this load.
    env: { ingress: { SWITCHYARD_PIN_CPU: '1', LOG_LEVEL: 'error', ...(process.env.SWITCHYARD_NODE_ARGS ? { SWITCHYARD_NODE_ARGS: process.env.SWITCHYARD_NODE_ARGS } : {}) } },
  });
  const ingressUrl = `${stack.ingressUrl}/v1`;
  try {
    const rows = [];
    for (const stream of [false, true]) {
      const direct = await load(fakeUrl, 'x', stream, null);
      const bareR = await load(bareUrl, 'x', stream, bare.pid);
      const ingress = await load(ingressUrl, stack.apiKey, stream, stack.services.ingress.pid);
      rows.push({ mode: stream ? `stream (${CHUNKS} chunks)` : 'non-streaming', direct, bare: bareR, ingress });
    }
    const t = {
      direct: await ttfb(fakeUrl, 'x', Number(args['ttfb-requests'])),
      bare: await ttfb(bareUrl, 'x', Number(args['ttfb-requests'])),
      ingress: await ttfb(ingressUrl, stack.apiKey, Number(args['ttfb-requests'])),
    };

    const f = (n, d = 0) => (n === null || n === undefined ? '-' : n.toFixed(d));
    console.log(`\nProxy overhead — ${CONNECTIONS} connections, ${DURATION}s per run, proxies pinned to CPU 1, node ${process.version}\n`);
    console.log('| mode | target | req/s | p50 ms | p99 ms | errors | proxy CPU µs/req |');
    console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: |');
    for (const r of rows) {
      for (const [name, v] of [['fake provider (direct)', r.direct], ['bare Node proxy', r.bare], ['Switchyard ingress', r.ingress]]) {
        console.log(`| ${r.mode} | ${name} | ${f(v.rps)} | ${f(v.p50, 1)} | ${f(v.p99, 1)} | ${v.errors} | ${f(v.cpuUsPerReq)} |`);
      }
    }
    console.log('\nRatios (same run):');
    for (const r of rows) {
      console.log(
        `  ${r.mode}: ingress/bare CPU per request = ${(r.ingress.cpuUsPerReq / r.bare.cpuUsPerReq).toFixed(2)}x; ` +
          `ingress/direct throughput = ${(r.ingress.rps / r.direct.rps).toFixed(2)}; ingress/bare throughput = ${(r.ingress.rps / r.bare.rps).toFixed(2)}; ` +
          `p50 ingress/direct = ${(r.ingress.p50 / Math.max(r.direct.p50, 0.001)).toFixed(2)}`,
      );
    }
    console.log(
      `  first byte of a stream at concurrency 1 (median): direct ${t.direct.toFixed(2)} ms, bare ${t.bare.toFixed(2)} ms, ingress ${t.ingress.toFixed(2)} ms ` +
        `→ ingress adds ${(t.ingress - t.direct).toFixed(2)} ms over direct, ${(t.ingress - t.bare).toFixed(2)} ms over the bare proxy`,
    );
  } finally {
    await stack.stop();
    for (const c of children) c.kill('SIGTERM');
  }
}

main().catch((e) => {
  console.error(e);
  for (const c of children) c.kill('SIGKILL');
  process.exit(1);
});
