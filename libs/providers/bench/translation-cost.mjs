// Translation cost per streamed chunk, in one run (plain node on the built dists):
//   npx tsc -b libs/providers && node libs/providers/bench/translation-cost.mjs [chunks=20] [streams=20000]
// Each case parses the upstream SSE bytes with the shared SseParser and then:
//   observer  – OpenAI → OpenAI: the ingress's OpenAIStreamObserver looks at each event, bytes forwarded as they are
//   openai    – OpenAI → OpenAI through the canonical form: decode + encode + serialise
//   anthropic – Anthropic → OpenAI: decode + encode + serialise
//   gemini    – Gemini → OpenAI: decode + encode + serialise
// Prints µs per content chunk (total stream cost / content chunks) for each.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resolve, dirname } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const p = require(resolve(here, '../dist/index.js'));
const observerPath = resolve(here, '../../../services/ingress/dist/providers/openai/stream.js');
const Observer = existsSync(observerPath) ? require(observerPath).OpenAIStreamObserver : null;

const CHUNKS = Number(process.argv[2] ?? 20);
const STREAMS = Number(process.argv[3] ?? 20000);
const TEXT = 'tok ';

function openaiStream() {
  const head = '{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","system_fingerprint":"fp_x","choices":';
  let s = 'data: ' + head + '[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"usage":null}\n\n';
  for (let i = 0; i < CHUNKS; i++) s += 'data: ' + head + '[{"index":0,"delta":{"content":"' + TEXT + '"},"logprobs":null,"finish_reason":null}],"usage":null}\n\n';
  s += 'data: ' + head + '[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}\n\n';
  s += 'data: ' + head + '[],"usage":{"prompt_tokens":9,"completion_tokens":' + CHUNKS + ',"total_tokens":' + (9 + CHUNKS) + '}}\n\n';
  return s + 'data: [DONE]\n\n';
}

function anthropicStream() {
  let s = 'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":9,"output_tokens":1}}}\n\n';
  s += 'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n';
  for (let i = 0; i < CHUNKS; i++) s += 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"' + TEXT + '"}}\n\n';
  s += 'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n';
  s += 'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":' + CHUNKS + '}}\n\n';
  return s + 'event: message_stop\ndata: {"type":"message_stop"}\n\n';
}

function geminiStream() {
  let s = '';
  for (let i = 0; i < CHUNKS; i++) s += 'data: {"candidates":[{"content":{"parts":[{"text":"' + TEXT + '"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":9,"totalTokenCount":9},"modelVersion":"gemini-2.5-flash","responseId":"r1"}\n\n';
  return s + 'data: {"candidates":[{"content":{"parts":[{"text":""}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":' + CHUNKS + ',"totalTokenCount":' + (9 + CHUNKS) + '},"modelVersion":"gemini-2.5-flash","responseId":"r1"}\n\n';
}

/** Upstream bytes as the network delivers them: one Buffer per SSE event. */
const split = (text) => text.split(/(?<=\n\n)/).map((e) => Buffer.from(e));

const cases = {};
if (Observer) {
  const bytes = split(openaiStream());
  cases.observer = () => {
    const parser = new p.SseParser();
    const obs = new Observer(false);
    const evs = [];
    let out = 0;
    for (const b of bytes) {
      evs.length = 0;
      parser.push(b, evs);
      for (const e of evs) if (e.data === '[DONE]' || obs.observe(e.data)) out += b.length; // forwarded as is
    }
    return out;
  };
}
function translate(text, Decoder) {
  const bytes = split(text);
  return () => {
    const parser = new p.SseParser();
    const dec = new Decoder();
    const enc = new p.OpenAIStreamEncoder({ created: 1, includeUsage: true });
    const evs = [];
    const canon = [];
    const wire = [];
    let out = 0;
    for (const b of bytes) {
      evs.length = 0;
      parser.push(b, evs);
      for (const e of evs) {
        canon.length = 0;
        dec.push(e.event, e.data, canon);
        for (const c of canon) {
          wire.length = 0;
          enc.push(c, wire);
          for (const w of wire) out += p.formatSse(w).length;
        }
      }
    }
    canon.length = 0;
    dec.end(canon);
    wire.length = 0;
    enc.end(wire);
    for (const w of wire) out += p.formatSse(w).length;
    return out;
  };
}
cases.openai = translate(openaiStream(), p.OpenAIStreamDecoder);
cases.anthropic = translate(anthropicStream(), p.AnthropicStreamDecoder);
cases.gemini = translate(geminiStream(), p.GeminiStreamDecoder);

function run(fn, n) {
  let sink = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) sink += fn();
  const ns = Number(process.hrtime.bigint() - t0);
  if (sink === 0) throw new Error('nothing produced');
  return ns / 1000 / n / CHUNKS;
}

for (const fn of Object.values(cases)) run(fn, Math.max(1000, STREAMS / 5)); // warm up
const results = {};
for (let round = 0; round < 5; round++) for (const [name, fn] of Object.entries(cases)) results[name] = Math.min(results[name] ?? Infinity, run(fn, STREAMS));
console.log(`node ${process.version}, ${CHUNKS} content chunks per stream, ${STREAMS} streams, best of 5 interleaved rounds`);
for (const [name, us] of Object.entries(results)) console.log(`${name.padEnd(10)} ${us.toFixed(3)} µs/chunk  (${(us * CHUNKS).toFixed(1)} µs/stream)`);
if (!Observer) console.log('(observer skipped: build services/ingress for the OpenAI pass-through baseline)');
if (results.observer) console.log(`anthropic→openai costs ${(results.anthropic / results.observer).toFixed(2)}× the pass-through observer, +${(results.anthropic - results.observer).toFixed(3)} µs/chunk`);
