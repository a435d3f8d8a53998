/**
 * Every client protocol against every upstream protocol: the same
 * conversation parsed from each client's wire, built for each upstream,
 * and a recorded upstream stream translated back — text, tool calls,
 * finish and usage survive every pair.
 */
import { describe, expect, it } from 'vitest';
import { decode, encode, fixture, fixtureJson } from '../test-support/fixtures';
import { CLIENT_PROTOCOLS, PROTOCOLS, UPSTREAM_PROTOCOLS, type Protocol } from './protocols';
import { parseAnthropicRequest } from './anthropic/request';
import { parseGeminiRequest } from './gemini/request';
import { parseOpenAIChatRequest } from './openai/request';
import { AnthropicStreamDecoder } from './anthropic/stream';
import { GeminiStreamDecoder } from './gemini/stream';
import { OpenAIStreamDecoder } from './openai/stream';
import type { CanonicalRequest } from './canonical/request.types';
import type { StreamDecoder } from './canonical/stream.types';

const CLIENT_BODIES: Record<Protocol, unknown> = {
  openai: { model: 'm', messages: [{ role: 'system', content: 'S' }, { role: 'user', content: 'Weather?' }], tools: [{ type: 'function', function: { name: 'w', parameters: { type: 'object' } } }], max_tokens: 50, stream: true, stream_options: { include_usage: true } },
  anthropic: { model: 'm', system: 'S', max_tokens: 50, messages: [{ role: 'user', content: 'Weather?' }], tools: [{ name: 'w', input_schema: { type: 'object' } }], stream: true },
  gemini: { systemInstruction: { parts: [{ text: 'S' }] }, contents: [{ role: 'user', parts: [{ text: 'Weather?' }] }], tools: [{ functionDeclarations: [{ name: 'w', parameters: { type: 'OBJECT' } }] }], generationConfig: { maxOutputTokens: 50 } },
};

const STREAMS: Record<Protocol, { file: string; decoder: () => StreamDecoder; text: string; tools: string[]; finish: string; input: number; output: number }> = {
  openai: { file: 'chat-stream-tools.sse', decoder: () => new OpenAIStreamDecoder(), text: '', tools: ['{"location": "Paris"}', '{"location": "Bogotá"}'], finish: 'tool_calls', input: 71, output: 40 },
  anthropic: { file: 'messages-stream-tools.sse', decoder: () => new AnthropicStreamDecoder(), text: "Okay, let's check the weather.", tools: ['{"location": "San Francisco, CA"}'], finish: 'tool_calls', input: 728, output: 89 },
  gemini: { file: 'stream-tools.sse', decoder: () => new GeminiStreamDecoder(), text: '', tools: ['{"location":"Paris"}', '{"location":"Bogotá"}'], finish: 'tool_calls', input: 50, output: 12 },
};

/** Reads what a client of `protocol` ends up with from the canonical events of its encoder's output, via that protocol's own upstream decoder. */
function clientView(protocol: Protocol, wireText: string) {
  const d = UPSTREAM_PROTOCOLS[protocol].newDecoder();
  const events = decode(wireText, d);
  let text = '';
  const tools: string[] = [];
  let finish: string | null = null;
  for (const e of events) {
    if (e.type === 'text_delta') text += e.text;
    else if (e.type === 'tool_call_start') tools[e.index] = '';
    else if (e.type === 'tool_call_delta') tools[e.index] += e.argumentsDelta;
    else if (e.type === 'finish') finish = e.reason;
  }
  return { text, tools: tools.map((t) => JSON.parse(t) as unknown), finish, usage: d.usage };
}

const PAIRS = PROTOCOLS.flatMap((c) => PROTOCOLS.map((u) => [c, u] as const));

describe.each(PAIRS)('%s client → %s upstream', (client, upstream) => {
  const req: CanonicalRequest = CLIENT_PROTOCOLS[client].parseRequest(CLIENT_BODIES[client], { model: 'm', stream: true });

  it('parses the same conversation and builds an upstream body that parses back to it', () => {
    expect(req).toMatchObject({ system: 'S', messages: [{ role: 'user', content: [{ type: 'text', text: 'Weather?' }] }], tools: [{ name: 'w', parameters: { type: 'object' } }], maxOutputTokens: 50, stream: true });
    const body = UPSTREAM_PROTOCOLS[upstream].buildRequest(req, 'up-model');
    const back =
      upstream === 'openai' ? parseOpenAIChatRequest(body) : upstream === 'anthropic' ? parseAnthropicRequest(body) : parseGeminiRequest(body, { model: 'up-model', stream: true });
    expect(back).toMatchObject({ system: 'S', messages: req.messages, tools: [{ name: 'w', parameters: { type: 'object' } }], maxOutputTokens: 50 });
  });

  it('translates the upstream stream: text, tool-call arguments, finish and usage arrive intact', () => {
    const s = STREAMS[upstream];
    const wire = encode(decode(fixture(upstream, s.file), s.decoder()), CLIENT_PROTOCOLS[client].newEncoder(req, { created: 1 }));
    const text = wire.map((w) => (w.event ? `event: ${w.event}\n` : '') + 'data: ' + (typeof w.data === 'string' ? w.data : JSON.stringify(w.data)) + '\n\n').join('');
    const view = clientView(client, text);
    expect(view.text).toBe(s.text);
    expect(view.tools).toEqual(s.tools.map((t) => JSON.parse(t) as unknown));
    expect(view.finish).toBe(s.finish);
    expect(view.usage).toMatchObject({ input: s.input, output: s.output });
  });

  it('renders an upstream error in the client’s shape', () => {
    const upstreamError = { openai: ['openai', 'error-rate-limit.json', 429], anthropic: ['anthropic', 'error-overloaded.json', 529], gemini: ['gemini', 'error-resource-exhausted.json', 429] } as const;
    const [dir, file, status] = upstreamError[upstream];
    const rendered = CLIENT_PROTOCOLS[client].renderError(UPSTREAM_PROTOCOLS[upstream].parseError(status, fixtureJson(dir, file)));
    expect(rendered.status).toBeGreaterThanOrEqual(429);
    const shape = { openai: { error: { message: expect.any(String), type: expect.any(String), param: null, code: expect.anything() } }, anthropic: { type: 'error', error: { type: expect.any(String), message: expect.any(String) } }, gemini: { error: { code: rendered.status, message: expect.any(String), status: expect.any(String) } } };
    expect(rendered.body).toEqual(client === 'openai' && upstream !== 'openai' ? { error: { ...shape.openai.error, code: null } } : shape[client]);
  });
});
