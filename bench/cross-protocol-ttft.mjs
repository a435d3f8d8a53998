// Cross-protocol streaming cost, in one run: the time to the first streamed
// byte at concurrency 1 for a same-protocol stream (OpenAI client → OpenAI
// channel, bytes passed through) and a cross-protocol one (OpenAI client →
// Anthropic channel, translated event by event), each against the same fake
// upstream called directly; then the translation cost per streamed chunk
// (libs/providers/bench/translation-cost.mjs) in the same run.
//
//   npm run build && node bench/cross-protocol-ttft.mjs [--requests 300] [--chunks 20]
//
// Requests to the four targets are interleaved so machine noise hits them
// alike. Uses (and resets) the *test* databases, like the end-to-end tests.
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';
import { request } from 'undici';

const require = createRequire(import.meta.url);
// Like `npm test`: NATS, PostgreSQL and ClickHouse up, the test database there.
execFileSync('bash', ['deploy/local/ensure-infra.sh'], {
  stdio: ['ignore', 'ignore', 'inherit'],
  env: { ...process.env, DATABASE_URL: process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/switchyard_test' },
});
const { startStack } = require('../libs/testkit/dist/index.js');
const { startFakeOpenAI, startFakeAnthropic } = require('../libs/fake-provider/dist/index.js');

const { values: args } = parseArgs({
  options: { requests: { type: 'string', default: '300' }, chunks: { type: 'string', default: '20' } },
});
const N = Number(args.requests);
const CHUNKS = Number(args.chunks);

/** ms from sending the request to the first body byte; the rest is drained. */
async function firstByteMs(url, headers, body) {
  const t0 = process.hrtime.bigint();
  const res = await request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  let t = null;
  for await (const chunk of res.body) if (t === null && chunk.length > 0) t = Number(process.hrtime.bigint() - t0) / 1e6;
  if (res.statusCode !== 200) throw new Error(`${url}: HTTP ${res.statusCode}`);
  return t;
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

async function main() {
  const behavior = { chunks: CHUNKS, ttftMs: 0, chunkDelayMs: 0 };
  const openai = await startFakeOpenAI({ behavior });
  const anthropic = await startFakeAnthropic({ behavior });
  const price = { inputUsdPerMtok: '0.15', outputUsdPerMtok: '0.60' };
  const stack = await startStack({
    channels: [
      { id: 'same', baseUrl: openai.url, models: [{ model: 'gpt-4o-mini', ...price }] },
      { id: 'cross', provider: 'anthropic', baseUrl: anthropic.url, models: [{ model: 'claude-sonnet', upstream: 'claude-sonnet-4-5', ...price }] },
    ],
    balanceUsd: '1000000.00',
    env: { ingress: { LOG_LEVEL: 'error' } },
  });
  const messages = [{ role: 'user', content: 'first byte, please' }];
  const auth = { authorization: `Bearer ${stack.apiKey}` };
  const targets = {
    'direct OpenAI upstream': () => firstByteMs(`${openai.url}/chat/completions`, {}, { model: 'gpt-4o-mini', stream: true, messages }),
    'direct Anthropic upstream': () =>
      firstByteMs(`${anthropic.url}/v1/messages`, { 'anthropic-version': '2023-06-01', 'x-api-key': 'x' }, { model: 'claude-sonnet-4-5', max_tokens: 256, stream: true, messages }),
    'ingress OpenAI → OpenAI (same)': () => firstByteMs(`${stack.ingressUrl}/v1/chat/completions`, auth, { model: 'gpt-4o-mini', stream: true, messages }),
    'ingress OpenAI → Anthropic (cross)': () => firstByteMs(`${stack.ingressUrl}/v1/chat/completions`, auth, { model: 'claude-sonnet', stream: true, messages }),
  };
  const times = Object.fromEntries(Object.keys(targets).map((k) => [k, []]));
  try {
    for (let i = 0; i < 30; i++) for (const f of Object.values(targets)) await f(); // warm-up: JIT, pools, plans
    for (let i = 0; i < N; i++) for (const [k, f] of Object.entries(targets)) times[k].push(await f());

    console.log(`\nTime to first streamed byte, concurrency 1, ${N} requests each (interleaved), ${CHUNKS}-chunk streams, node ${process.version}\n`);
    console.log('| target | p50 ms | p90 ms | mean ms |');
    console.log('| --- | ---: | ---: | ---: |');
    for (const [k, xs] of Object.entries(times)) {
      console.log(`| ${k} | ${pct(xs, 50).toFixed(3)} | ${pct(xs, 90).toFixed(3)} | ${(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(3)} |`);
    }
    const added = (ingress, direct) => pct(times[ingress], 50) - pct(times[direct], 50);
    const same = added('ingress OpenAI → OpenAI (same)', 'direct OpenAI upstream');
    const cross = added('ingress OpenAI → Anthropic (cross)', 'direct Anthropic upstream');
    console.log(`\nAdded to the first byte by ingress (p50 − direct p50): same-protocol ${same.toFixed(3)} ms, cross-protocol ${cross.toFixed(3)} ms`);
    console.log(`Cross-protocol translation adds ${(cross - same).toFixed(3)} ms to the first byte over a same-protocol stream (ratio ${(cross / Math.max(same, 0.001)).toFixed(2)}x).\n`);
  } finally {
    await stack.stop();
    await openai.close();
    await anthropic.close();
  }
  console.log('Translation cost per streamed chunk (same run):');
  process.stdout.write(execFileSync(process.execPath, ['libs/providers/bench/translation-cost.mjs', String(CHUNKS), '20000'], { encoding: 'utf8' }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
