import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import OpenAI from 'openai';
import { startFakeOpenAI, type FakeBehavior, type FakeOpenAIOptions, type FakeProvider } from './index';
import { countPromptTokens } from './tokens';

const MESSAGES = [
  { role: 'system', content: 'You are terse.' }, // 3 words
  { role: 'user', content: [{ type: 'text', text: 'Say  hello\tworld' }, { type: 'image_url', image_url: { url: 'x' } }] }, // 3 words
];
const PROMPT_TOKENS = 3 + 3 + 2 * 3;

let fake: FakeProvider;

async function start(opts: FakeOpenAIOptions = {}): Promise<FakeProvider> {
  fake = await startFakeOpenAI(opts);
  return fake;
}

afterEach(async () => {
  await fake?.close();
});

function chat(body: Record<string, unknown> = {}, headers: Record<string, string> = {}, init: RequestInit = {}): Promise<Response> {
  return fetch(`${fake.url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-abcd', ...headers },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: MESSAGES, ...body }),
    ...init,
  });
}

const script = (b: FakeBehavior): Record<string, string> => ({ 'x-fake-behavior': JSON.stringify(b) });

/** Splits an SSE body into its `data:` payloads (`[DONE]` kept as a string). */
function sseData(text: string): unknown[] {
  return text
    .split('\n\n')
    .filter((e) => e.length > 0)
    .map((e) => {
      expect(e.startsWith('data: ')).toBe(true);
      const data = e.slice(6);
      return data === '[DONE]' ? data : JSON.parse(data);
    });
}

/** Reads a body until it ends or fails; returns what arrived and the failure, if any. */
async function readAll(res: Response): Promise<{ text: string; error: unknown }> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { text, error: null };
      text += decoder.decode(value, { stream: true });
    }
  } catch (error) {
    return { text, error };
  }
}

interface CompletionBody {
  model: string;
  usage: { completion_tokens: number } & Record<string, unknown>;
}
interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}
interface ModelList {
  object: string;
  data: unknown[];
}
const completionOf = async (res: Response | Promise<Response>): Promise<CompletionBody> => (await (await res).json()) as CompletionBody;
const errorOf = async (res: Response): Promise<ErrorBody> => (await res.json()) as ErrorBody;

type Chunk = { object: string; choices: { delta: Record<string, unknown>; finish_reason: string | null }[]; usage?: unknown };

describe('countPromptTokens', () => {
  it('counts words across string and text-part contents plus 3 per message', () => {
    expect(countPromptTokens(MESSAGES)).toBe(PROMPT_TOKENS);
    expect(countPromptTokens([])).toBe(1);
    expect(countPromptTokens([{ role: 'user', content: '  ' }])).toBe(3);
  });
});

describe('non-streaming chat completion', () => {
  beforeEach(() => start({ now: () => 1_700_000_000_123 }));

  it('answers with an OpenAI chat.completion object and exact usage', async () => {
    const res = await chat({}, script({ chunks: 3, chunkText: 'hi ' }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('x-request-id')).toMatch(/^req_/);
    expect(await res.json()).toEqual({
      id: expect.stringMatching(/^chatcmpl-/),
      object: 'chat.completion',
      created: 1_700_000_000,
      model: 'gpt-4o-mini',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'hi hi hi ', refusal: null, annotations: [] },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage: {
        prompt_tokens: PROMPT_TOKENS,
        completion_tokens: 3,
        total_tokens: PROMPT_TOKENS + 3,
        prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
      },
      service_tier: 'default',
      system_fingerprint: expect.stringMatching(/^fp_/),
    });
  });

  it('reports the scripted model, cached and reasoning tokens', async () => {
    fake.setBehavior({ model: 'gpt-4o-mini-2024-07-18', cachedTokens: 4, reasoningTokens: 7, chunks: 2 });
    const body = await completionOf(chat());
    expect(body.model).toBe('gpt-4o-mini-2024-07-18');
    expect(body.usage).toMatchObject({
      prompt_tokens: PROMPT_TOKENS,
      completion_tokens: 2 + 7,
      prompt_tokens_details: { cached_tokens: 4 },
      completion_tokens_details: { reasoning_tokens: 7 },
    });
  });

  it('honours latencyMs before answering', async () => {
    const t0 = performance.now();
    await (await chat({}, script({ latencyMs: 120 }))).json();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(115);
  });
});

describe('streaming chat completion', () => {
  beforeEach(() => start());

  it.each([
    ['written at once', {}],
    ['paced chunk by chunk', { chunkDelayMs: 5 }],
  ])('sends role chunk, content chunks, finish chunk and [DONE] (%s)', async (_name, pacing) => {
    const res = await chat({ stream: true }, script({ chunks: 3, chunkText: 'ab', ...pacing }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const events = sseData(await res.text());
    expect(events).toHaveLength(6);
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1) as Chunk[];
    for (const c of chunks) {
      expect(c).toMatchObject({ object: 'chat.completion.chunk', model: 'gpt-4o-mini', system_fingerprint: expect.any(String) });
      expect(c).not.toHaveProperty('usage');
    }
    expect(new Set(chunks.map((c) => (c as unknown as { id: string }).id)).size).toBe(1);
    expect(chunks[0].choices).toEqual([{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }]);
    expect(chunks.slice(1, 4).map((c) => c.choices[0].delta)).toEqual([{ content: 'ab' }, { content: 'ab' }, { content: 'ab' }]);
    expect(chunks[4].choices).toEqual([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]);
  });

  it.each([
    ['written at once', {}],
    ['paced', { chunkDelayMs: 2 }],
  ])('adds a usage chunk with empty choices only when include_usage is asked for (%s)', async (_name, pacing) => {
    const withUsage = sseData(await (await chat({ stream: true, stream_options: { include_usage: true } }, script({ chunks: 4, ...pacing }))).text());
    expect(withUsage).toHaveLength(1 + 4 + 1 + 1 + 1);
    const usageChunk = withUsage.at(-2) as Chunk;
    expect(usageChunk.choices).toEqual([]);
    expect(usageChunk.usage).toMatchObject({ prompt_tokens: PROMPT_TOKENS, completion_tokens: 4, total_tokens: PROMPT_TOKENS + 4 });
    // OpenAI puts "usage": null on every other chunk.
    for (const c of withUsage.slice(0, -2) as Chunk[]) expect(c.usage).toBeNull();

    const without = sseData(await (await chat({ stream: true, stream_options: { include_usage: false } }, script({ chunks: 4, ...pacing }))).text());
    expect(without).toHaveLength(1 + 4 + 1 + 1);
    expect(without.some((c) => typeof c === 'object' && (c as Chunk).choices.length === 0)).toBe(false);
  });

  it('waits ttftMs after the headers before the first chunk, and chunkDelayMs between chunks', async () => {
    const t0 = performance.now();
    const res = await chat({ stream: true }, script({ ttftMs: 150, chunks: 4, chunkDelayMs: 30 }));
    const reader = res.body!.getReader();
    await reader.read();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(145);
    while (!(await reader.read()).done);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(145 + 3 * 30 - 5);
  });

  it.each([
    ['written at once', {}],
    ['paced', { chunkDelayMs: 5 }],
  ])('breaks the connection mid-stream after breakAfterChunks (%s)', async (_name, pacing) => {
    const res = await chat({ stream: true }, script({ chunks: 10, breakAfterChunks: 3, ...pacing }));
    expect(res.status).toBe(200);
    const { text, error } = await readAll(res);
    expect(error).toBeInstanceOf(Error);
    const events = sseData(text) as Chunk[];
    expect(events).toHaveLength(1 + 3);
    expect(events.every((e) => e.choices[0].finish_reason === null)).toBe(true);
    await vi.waitFor(() => expect(fake.stats()).toMatchObject({ broken: 1, aborted: 0, completed: 0, inFlight: 0 }));
    expect(fake.requests[0]).toMatchObject({ broken: true, aborted: false, completed: false, chunksSent: 3 });
  });

  it.each([
    ['written at once', {}],
    ['paced', { chunkDelayMs: 5 }],
  ])('breaks inside the first tool call with breakInToolCall (%s)', async (_name, pacing) => {
    const toolCalls = [{ name: 'lookup', arguments: { city: 'Paris', days: 3 } }];
    const res = await chat({ stream: true }, script({ chunks: 2, toolCalls, breakInToolCall: true, ...pacing }));
    const { text, error } = await readAll(res);
    expect(error).toBeInstanceOf(Error);
    const events = sseData(text) as Array<{ choices: Array<{ delta: { tool_calls?: Array<{ function: { arguments: string } }> }; finish_reason: unknown }> }>;
    // role, 2 content chunks, the call's start and half its arguments; no finish.
    expect(events).toHaveLength(1 + 2 + 2);
    const args = events.flatMap((e) => e.choices[0]!.delta.tool_calls ?? []).map((c) => c.function.arguments).join('');
    expect(args.length).toBeGreaterThan(0);
    expect(args.length).toBeLessThan(JSON.stringify(toolCalls[0]!.arguments).length);
    expect(events.every((e) => e.choices[0]!.finish_reason === null)).toBe(true);
    await vi.waitFor(() => expect(fake.stats().broken).toBe(1));
  });

  it('drops a non-streaming request without any response when breakAfterChunks is set', async () => {
    await expect(chat({}, script({ breakAfterChunks: 0 }))).rejects.toThrow();
    await vi.waitFor(() => expect(fake.stats().broken).toBe(1));
  });

  it('records a client abort mid-stream and stops writing', async () => {
    const controller = new AbortController();
    const res = await chat({ stream: true }, script({ chunks: 100, chunkDelayMs: 20 }), { signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await vi.waitFor(() => expect(fake.stats()).toMatchObject({ aborted: 1, inFlight: 0 }));
    const sent = fake.requests[0].chunksSent;
    expect(sent).toBeLessThan(100);
    await new Promise((r) => setTimeout(r, 60));
    expect(fake.requests[0].chunksSent).toBe(sent);
  });
});

describe('scripted failures', () => {
  beforeEach(() => start());

  it.each([
    [401, 'invalid_request_error', 'invalid_api_key'],
    [404, 'invalid_request_error', 'model_not_found'],
    [429, 'requests', 'rate_limit_exceeded'],
    [500, 'server_error', null],
    [503, 'server_error', null],
  ])('answers %i with an OpenAI error body', async (status, type, code) => {
    const res = await chat({ stream: true }, script({ failStatus: status }));
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toEqual({ error: { message: expect.any(String), type, param: null, code } });
  });

  it('sends Retry-After with a scripted 429', async () => {
    const res = await chat({}, script({ failStatus: 429, retryAfterSeconds: 7 }));
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('7');
    expect((await errorOf(res)).error.message).toContain('try again in 7s');
  });

  it('sends failBody as given (object as JSON, string as-is)', async () => {
    const quota = { error: { message: 'You exceeded your current quota.', type: 'insufficient_quota', param: null, code: 'insufficient_quota' } };
    const res = await chat({}, script({ failStatus: 429, failBody: quota }));
    expect(await res.json()).toEqual(quota);
    const html = await chat({}, script({ failStatus: 502, failBody: '<html>bad gateway</html>' }));
    expect(html.status).toBe(502);
    expect(await html.text()).toBe('<html>bad gateway</html>');
  });

  it('fails a seeded, reproducible share of requests with failRate', async () => {
    const outcomes = async (): Promise<number[]> => {
      const out: number[] = [];
      for (let i = 0; i < 40; i++) {
        const res = await chat();
        await res.arrayBuffer();
        out.push(res.status);
      }
      return out;
    };
    await fake.close();
    await start({ seed: 7, behavior: { failRate: 0.5, failStatus: 503 } });
    const first = await outcomes();
    await fake.close();
    await start({ seed: 7, behavior: { failRate: 0.5, failStatus: 503 } });
    expect(await outcomes()).toEqual(first);
    expect(new Set(first)).toEqual(new Set([200, 503]));
  });

  it('hangs until the client aborts, and records the abort', async () => {
    const controller = new AbortController();
    const pending = chat({}, script({ hang: true }), { signal: controller.signal });
    await vi.waitFor(() => expect(fake.requests).toHaveLength(1));
    expect(fake.stats()).toMatchObject({ received: 1, inFlight: 1 });
    controller.abort();
    await expect(pending).rejects.toThrow();
    await vi.waitFor(() => expect(fake.stats()).toEqual({ received: 1, completed: 0, aborted: 1, broken: 0, inFlight: 0 }));
    expect(fake.requests[0]).toMatchObject({ aborted: true, completed: false, status: null });
  });
});

describe('scripting and requests', () => {
  beforeEach(() => start({ behavior: { chunks: 2 } }));

  it('applies an x-fake-behavior header to that request only', async () => {
    expect((await completionOf(chat({}, script({ chunks: 5 })))).usage.completion_tokens).toBe(5);
    expect((await completionOf(chat())).usage.completion_tokens).toBe(2);
  });

  it('refuses an x-fake-behavior header with an unknown key or bad JSON', async () => {
    const typo = await chat({}, script({ ttft: 5 } as FakeBehavior));
    expect(typo.status).toBe(400);
    expect((await errorOf(typo)).error.message).toContain('ttft');
    expect((await chat({}, { 'x-fake-behavior': '{nope' })).status).toBe(400);
    expect(() => fake.setBehavior({ chunks: -1 })).toThrow(TypeError);
  });

  it('answers malformed JSON with a 400 OpenAI error', async () => {
    const res = await fetch(`${fake.url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":' });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { message: expect.stringContaining('could not parse the JSON body'), type: 'invalid_request_error', param: null, code: null } });
  });

  it('answers a request without messages with missing_required_parameter', async () => {
    const res = await chat({ messages: undefined });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).error).toMatchObject({ param: 'messages', code: 'missing_required_parameter' });
  });

  it('answers unknown paths with a 404 OpenAI error', async () => {
    const res = await fetch(`${fake.url}/nope`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { message: 'Invalid URL (GET /v1/nope)', type: 'invalid_request_error', param: null, code: null } });
  });

  it('lists models in the OpenAI list shape', async () => {
    const body = (await (await fetch(`${fake.url}/models`)).json()) as ModelList;
    expect(body.object).toBe('list');
    expect(body.data[0]).toEqual({ id: 'gpt-4o-mini', object: 'model', created: expect.any(Number), owned_by: 'system' });
  });

  it('records requests with the key redacted, and reset clears them', async () => {
    await (await chat({ temperature: 0 })).json();
    expect(fake.requests).toHaveLength(1);
    const rec = fake.requests[0];
    expect(rec).toMatchObject({ method: 'POST', path: '/v1/chat/completions', hasAuth: true, keyLast4: 'abcd', completed: true, aborted: false, status: 200 });
    expect(rec.body).toMatchObject({ model: 'gpt-4o-mini', temperature: 0 });
    expect(rec.headers).not.toHaveProperty('authorization');
    expect(JSON.stringify(rec)).not.toContain('sk-test');
    expect(fake.stats()).toEqual({ received: 1, completed: 1, aborted: 0, broken: 0, inFlight: 0 });
    fake.reset();
    expect(fake.requests).toHaveLength(0);
    expect(fake.stats()).toEqual({ received: 0, completed: 0, aborted: 0, broken: 0, inFlight: 0 });
  });

  it('serves control endpoints for a fake in another process', async () => {
    const base = fake.url.replace(/\/v1$/, '');
    const put = await fetch(`${base}/_fake/behavior`, { method: 'PUT', body: JSON.stringify({ chunks: 9 }) });
    expect(put.status).toBe(200);
    expect((await completionOf(chat())).usage.completion_tokens).toBe(9);
    expect(await (await fetch(`${base}/_fake/stats`)).json()).toMatchObject({ received: 1, completed: 1 });
    await fetch(`${base}/_fake/reset`, { method: 'POST' });
    expect((await completionOf(chat())).usage.completion_tokens).toBe(2);
  });
});

describe('options', () => {
  it('keeps only counters with recordRequests: false', async () => {
    await start({ recordRequests: false });
    await (await chat({ stream: true })).text();
    await (await chat()).json();
    expect(fake.requests).toHaveLength(0);
    expect(fake.stats()).toMatchObject({ received: 2, completed: 2 });
  });

  it('requires the configured API key', async () => {
    await start({ requireApiKey: 'sk-right' });
    const wrong = await chat({}, { authorization: 'Bearer sk-wrong' });
    expect(wrong.status).toBe(401);
    expect((await errorOf(wrong)).error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_api_key' });
    const missing = await fetch(`${fake.url}/chat/completions`, { method: 'POST', body: '{}' });
    expect(missing.status).toBe(401);
    await missing.arrayBuffer();
    expect(fake.requests[1]).toMatchObject({ hasAuth: false, keyLast4: null });
    expect((await chat({}, { authorization: 'Bearer sk-right' })).status).toBe(200);
  });

  it('closes active connections on close()', async () => {
    await start({ behavior: { hang: true } });
    const pending = chat().then(
      () => null,
      (err: unknown) => err,
    );
    await vi.waitFor(() => expect(fake.stats().inFlight).toBe(1));
    await fake.close();
    expect(fake.stats()).toMatchObject({ inFlight: 0, aborted: 1 });
    expect(await pending).toBeInstanceOf(Error);
  });
});

describe('with the openai SDK as the client', () => {
  beforeEach(() => start({ behavior: { chunks: 3, chunkText: 'yo ' } }));

  it('parses a completion and its usage', async () => {
    const client = new OpenAI({ baseURL: fake.url, apiKey: 'x', maxRetries: 0 });
    const completion = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello there' }] });
    expect(completion.choices[0].message.content).toBe('yo yo yo ');
    expect(completion.usage).toMatchObject({ prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 });
  });

  it('streams content and the usage chunk', async () => {
    const client = new OpenAI({ baseURL: fake.url, apiKey: 'x', maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hello there' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let content = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    let finish: string | null = null;
    for await (const chunk of stream) {
      content += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(content).toBe('yo yo yo ');
    expect(finish).toBe('stop');
    expect(usage).toMatchObject({ prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 });
  });

  it('surfaces a scripted 429 as a RateLimitError', async () => {
    fake.setBehavior({ failStatus: 429, retryAfterSeconds: 1 });
    const client = new OpenAI({ baseURL: fake.url, apiKey: 'x', maxRetries: 0 });
    const err = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect((err as InstanceType<typeof OpenAI.RateLimitError>).code).toBe('rate_limit_exceeded');
  });

  it('sees a mid-stream break as an error', async () => {
    fake.setBehavior({ chunks: 10, chunkText: 'yo ', breakAfterChunks: 2 });
    const client = new OpenAI({ baseURL: fake.url, apiKey: 'x', maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], stream: true });
    let content = '';
    await expect(
      (async () => {
        for await (const chunk of stream) content += chunk.choices[0]?.delta.content ?? '';
      })(),
    ).rejects.toThrow();
    expect(content).toBe('yo yo ');
  });
});

describe('scripted tool calls and mid-stream errors, with the openai SDK', () => {
  beforeEach(() => start({ behavior: { chunks: 2, chunkText: 'ok ' } }));
  const toolCalls = [
    { name: 'get_weather', arguments: { location: 'Paris' } },
    { name: 'get_time', arguments: { tz: 'UTC' } },
  ];

  it('returns tool_calls with finish_reason tool_calls, and counts them in completion_tokens', async () => {
    const client = new OpenAI({ baseURL: fake.url, apiKey: 'x', maxRetries: 0 });
    const c = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello there' }] }, { headers: script({ chunks: 0, toolCalls }) });
    expect(c.choices[0].finish_reason).toBe('tool_calls');
    expect(c.choices[0].message.content).toBeNull();
    expect(c.choices[0].message.tool_calls).toEqual([
      { id: expect.stringMatching(/^call_/), type: 'function', function: { name: 'get_weather', arguments: '{"location":"Paris"}' } },
      { id: expect.stringMatching(/^call_/), type: 'function', function: { name: 'get_time', arguments: '{"tz":"UTC"}' } },
    ]);
    expect(c.usage).toMatchObject({ completion_tokens: 20 });
  });

  it.each([
    ['written at once', {}],
    ['paced', { chunkDelayMs: 2 }],
  ])('streams tool-call argument deltas after the text (%s)', async (_name, pacing) => {
    const client = new OpenAI({ baseURL: fake.url, apiKey: 'x', maxRetries: 0 });
    const stream = client.chat.completions.stream(
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello there' }], stream_options: { include_usage: true } },
      { headers: script({ toolCalls, ...pacing }) },
    );
    const final = await stream.finalChatCompletion();
    expect(final.choices[0].message.content).toBe('ok ok ');
    expect(final.choices[0].finish_reason).toBe('tool_calls');
    expect(final.choices[0].message.tool_calls?.map((t) => [t.type === 'function' ? t.function.name : '', t.type === 'function' ? JSON.parse(t.function.arguments) : null])).toEqual([
      ['get_weather', { location: 'Paris' }],
      ['get_time', { tz: 'UTC' }],
    ]);
    expect(final.usage).toMatchObject({ completion_tokens: 2 + 20 });
  });

  it.each([
    ['written at once', {}],
    ['paced', { chunkDelayMs: 2 }],
  ])('ends a stream with an error event after errorAfterChunks (%s)', async (_name, pacing) => {
    const res = await chat({ stream: true }, script({ chunks: 5, errorAfterChunks: 2, ...pacing }));
    const events = sseData(await res.text());
    expect(events).toHaveLength(1 + 2 + 1);
    expect(events.at(-1)).toEqual({ error: { message: expect.any(String), type: 'server_error', param: null, code: null } });
  });
});

describe('latency jitter', () => {
  it('spreads each request’s delay over latencyMs ± latencyJitterMs', async () => {
    const fake = await startFakeOpenAI({ behavior: { latencyMs: 60, latencyJitterMs: 50 }, seed: 7 });
    try {
      const times: number[] = [];
      for (let i = 0; i < 12; i++) {
        const t0 = performance.now();
        const r = await fetch(`${fake.url}/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x' }] }),
        });
        await r.arrayBuffer();
        times.push(performance.now() - t0);
      }
      expect(Math.min(...times)).toBeGreaterThanOrEqual(9);
      expect(Math.max(...times) - Math.min(...times)).toBeGreaterThan(20);
    } finally {
      await fake.close();
    }
  });
});
