// Before/after of an ingress change on a shared, noisy machine: the bare
// proxy, the ingress built in another work tree (BASE, e.g. a `git worktree`
// of main with its own node_modules and `npm run build`) and this tree's
// ingress, all pinned to CPU 1 against one stack, loaded in alternating
// rounds of one run. Prints CPU µs per request (user + sys) per round, the
// medians, this tree / BASE per round, and first-byte medians at concurrency 1.
//
//   BASE=/path/to/other/tree [ROUNDS=5] [DUR=4] [CONNS=50] [TTFB=0] [NEW_ARGS="--node-flag"] node bench/ingress-ab.mjs
//
// Uses (and resets) the test databases, like bench/proxy-overhead.mjs.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import autocannon from 'autocannon';
import { request } from 'undici';
const require = createRequire(import.meta.url);
const { startStack, freePort, waitForHttp } = require('../libs/testkit/dist/index.js');
const ROUNDS = Number(process.env.ROUNDS ?? 4), DUR = Number(process.env.DUR ?? 4), CONNS = Number(process.env.CONNS ?? 50);
const BASE = process.env.BASE;
if (!BASE) throw new Error('BASE=<work tree with a built ingress> is required');
const kids = [];
function ut(pid) { const s = readFileSync(`/proc/${pid}/stat`, 'utf8'); const f = s.slice(s.lastIndexOf(')') + 2).split(' '); return (Number(f[11]) + Number(f[12])) / 100; }
const fakePort = await freePort();
kids.push(spawn('taskset', ['-c', '0', process.execPath, 'libs/fake-provider/dist/main.js', '--port', String(fakePort), '--behavior', JSON.stringify({ chunks: 20 })], { stdio: 'ignore' }));
const fakeUrl = `http://127.0.0.1:${fakePort}/v1`;
await waitForHttp(`${fakeUrl}/models`, 10000);
const barePort = await freePort();
const bare = spawn('taskset', ['-c', '1', process.execPath, 'bench/bare-proxy.mjs', String(barePort), fakeUrl], { stdio: ['ignore', 'pipe', 'inherit'] });
kids.push(bare);
await new Promise((r) => bare.stdout.once('data', r));
const stack = await startStack({ channels: [{ id: 'bench', baseUrl: fakeUrl, models: [{ model: 'gpt-4o-mini', inputUsdPerMtok: '0.15', outputUsdPerMtok: '0.60' }] }], balanceUsd: '1000000.00',
  env: { ingress: { SWITCHYARD_PIN_CPU: '1', LOG_LEVEL: 'error', ...(process.env.NEW_ARGS ? { SWITCHYARD_NODE_ARGS: process.env.NEW_ARGS } : {}) } } });
const basePort = await freePort();
const baseP = spawn('taskset', ['-c', '1', process.execPath, `${BASE}/services/ingress/dist/main.js`], { cwd: BASE, env: { ...process.env, ...stack.env, INGRESS_PORT: String(basePort), LOG_LEVEL: 'error' }, stdio: ['ignore', 'ignore', 'inherit'] });
kids.push(baseP);
await waitForHttp(`http://127.0.0.1:${basePort}/readyz`, 30000);
const targets = {
  bare: { url: `http://127.0.0.1:${barePort}/v1`, key: 'x', pid: bare.pid },
  base: { url: `http://127.0.0.1:${basePort}/v1`, key: stack.apiKey, pid: baseP.pid },
  new: { url: `${stack.ingressUrl}/v1`, key: stack.apiKey, pid: stack.services.ingress.pid },
};
async function load(t, stream, duration) {
  const body = JSON.stringify({ model: 'gpt-4o-mini', stream, messages: [{ role: 'user', content: 'Benchmark me, please.' }] });
  const c0 = ut(t.pid);
  const r = await autocannon({ url: `${t.url}/chat/completions`, method: 'POST', connections: CONNS, duration, headers: { 'content-type': 'application/json', authorization: `Bearer ${t.key}` }, body });
  const c1 = ut(t.pid);
  if (r.non2xx || r.errors) console.log('ERRORS', r.non2xx, r.errors);
  return { us: ((c1 - c0) * 1e6) / r.requests.total, rps: r.requests.average };
}
async function ttfb(t, n) {
  const body = JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'first byte' }] });
  const times = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    const res = await request(`${t.url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${t.key}` }, body });
    let got = false;
    for await (const chunk of res.body) if (!got && chunk.length > 0) { got = true; times.push(Number(process.hrtime.bigint() - t0) / 1e6); }
  }
  return times;
}
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
try {
  for (const stream of [false, true]) for (const name of ['bare', 'base', 'new']) await load(targets[name], stream, 2);
  const res = {};
  const order = ['bare', 'base', 'new'];
  for (let r = 0; r < ROUNDS; r++) {
    for (const stream of [false, true]) {
      const o = r % 2 ? [...order].reverse() : order;
      const line = [];
      for (const name of o) {
        const v = await load(targets[name], stream, DUR);
        (res[`${stream ? 'stream' : 'json'}/${name}`] ??= []).push(v.us);
        line.push(`${name} ${v.us.toFixed(0)}µs ${v.rps.toFixed(0)}rps`);
      }
      console.log(`round ${r} ${stream ? 'stream' : 'json  '}: ${line.join(' | ')}`);
    }
  }
  for (const m of ['json', 'stream']) {
    const b = med(res[`${m}/bare`]), o = med(res[`${m}/base`]), n = med(res[`${m}/new`]);
    const pr = res[`${m}/new`].map((v, i) => v / res[`${m}/base`][i]);
    console.log(`${m}: median µs/req bare ${b.toFixed(0)}, base ${o.toFixed(0)} (${(o / b).toFixed(2)}x bare), new ${n.toFixed(0)} (${(n / b).toFixed(2)}x bare); new/base per round ${pr.map((x) => x.toFixed(2)).join(' ')} median ${med(pr).toFixed(3)}`);
  }
  if (process.env.TTFB !== '0') {
    const tt = { bare: [], base: [], new: [] };
    for (let r = 0; r < 3; r++) for (const name of ['bare', 'base', 'new']) tt[name].push(...(await ttfb(targets[name], 100)));
    console.log(`ttfb median ms: bare ${med(tt.bare).toFixed(3)} base ${med(tt.base).toFixed(3)} new ${med(tt.new).toFixed(3)}`);
  }
} finally {
  await stack.stop();
  for (const k of kids) k.kill('SIGTERM');
}
