import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import Anthropic from '@anthropic-ai/sdk';
import { startFakeAnthropic, type FakeBehavior, type FakeProvider } from './index';

let fake: FakeProvider;
afterEach(async () => {
  await fake?.close();
});

const MESSAGES = [{ role: 'user' as const, content: 'Say hello world' }]; // 3 + 3 words
const PROMPT = 6;
const SYSTEM_PROMPT = 3 + 2; // "Be terse."

const client = (): Anthropic => new Anthropic({ baseURL: fake.url, apiKey: 'sk-ant-test-wxyz', maxRetries: 0 });
const script = (b: FakeBehavior) => ({ headers: { 'x-fake-behavior': JSON.stringify(b) } });

function post(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${fake.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'k', 'anthropic-version': '2023-06-01', ...headers },
    body: JSON.stringify(body),
  });
}

/** Parses an SSE body into `{event, data}` pairs. */
function sse(text: string): Array<{ event: string; data: Record<string, unknown> }> {
  return text
    .split('\n\n')
    .filter(Boolean)
    .map((block) => {
      const [e, d] = block.split('\n');
      expect(e!.startsWith('event: ') && d!.startsWith('data: ')).toBe(true);
      return { event: e!.slice(7), data: JSON.parse(d!.slice(6)) as Record<string, unknown> };
    });
}

describe('fake Anthropic with @anthropic-ai/sdk as the client', () => {
  beforeEach(async () => {
    fake = await startFakeAnthropic({ behavior: { chunks: 3, chunkText: 'hi ' } });
  });

  it('answers messages.create with a message and exact usage', async () => {
    const msg = await client().messages.create({ model: 'claude-sonnet-4-20250514', max_tokens: 100, system: 'Be terse.', messages: MESSAGES });
    expect(msg).toEqual({
      id: expect.stringMatching(/^msg_/),
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-20250514',
      content: [{ type: 'text', text: 'hi hi hi ' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: PROMPT + SYSTEM_PROMPT, output_tokens: 3, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, service_tier: 'standard' },
    });
    expect(fake.requests[0]).toMatchObject({ path: '/v1/messages', hasAuth: true, keyLast4: 'wxyz' });
    expect(fake.requests[0]!.headers['anthropic-version']).toBe('2023-06-01');
    expect(fake.requests[0]!.headers).not.toHaveProperty('x-api-key');
  });

  it('streams the full event sequence; the SDK assembles text and usage (cache reads apart from input)', async () => {
    fake.setBehavior({ chunks: 4, chunkText: 'ab', cachedTokens: 2 });
    const stream = client().messages.stream({ model: 'claude-sonnet-4-20250514', max_tokens: 100, messages: MESSAGES });
    const types: string[] = [];
    for await (const ev of stream) types.push(ev.type);
    const msg = await stream.finalMessage();
    expect(types).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(msg.content).toMatchObject([{ type: 'text', text: 'abababab' }]);
    expect(msg.usage).toMatchObject({ input_tokens: PROMPT - 2, cache_read_input_tokens: 2, output_tokens: 4 });
    expect(msg.stop_reason).toBe('end_turn');
  });

  it('streams extended thinking with a signature, then text', async () => {
    const stream = client().messages.stream(
      { model: 'claude-sonnet-4-20250514', max_tokens: 2048, thinking: { type: 'enabled', budget_tokens: 1024 }, messages: MESSAGES },
      script({ thinkingChunks: 2, reasoningTokens: 5 }),
    );
    const msg = await stream.finalMessage();
    expect(msg.content[0]).toEqual({ type: 'thinking', thinking: 'think think ', signature: 'ZmFrZS1zaWduYXR1cmU=' });
    expect(msg.content[1]).toMatchObject({ type: 'text', text: 'hi hi hi ' });
    expect(msg.usage.output_tokens).toBe(3 + 2 + 5);
  });

  it('makes tool calls, streamed as input_json_delta, with stop_reason tool_use', async () => {
    const toolCalls = [{ name: 'get_weather', arguments: { location: 'Paris', unit: 'c' } }, { name: 'get_time', arguments: { tz: 'UTC' } }];
    const stream = client().messages.stream(
      { model: 'claude-sonnet-4-20250514', max_tokens: 100, messages: MESSAGES, tools: [{ name: 'get_weather', input_schema: { type: 'object' } }] },
      script({ chunks: 1, toolCalls }),
    );
    const json: string[] = [];
    stream.on('inputJson', (partial) => json.push(partial));
    const msg = await stream.finalMessage();
    expect(msg.stop_reason).toBe('tool_use');
    expect(msg.content.filter((b) => b.type === 'tool_use')).toEqual([
      { type: 'tool_use', id: expect.stringMatching(/^toolu_/), name: 'get_weather', input: { location: 'Paris', unit: 'c' } },
      { type: 'tool_use', id: expect.stringMatching(/^toolu_/), name: 'get_time', input: { tz: 'UTC' } },
    ]);
    expect(json.length).toBeGreaterThanOrEqual(4);
    expect(msg.usage.output_tokens).toBe(1 + 2 * 10);
    const nonStream = await client().messages.create({ model: 'm', max_tokens: 10, messages: MESSAGES }, script({ chunks: 0, toolCalls }));
    expect(nonStream.content.map((b) => b.type)).toEqual(['tool_use', 'tool_use']);
  });

  it.each([
    [429, Anthropic.RateLimitError, 'rate_limit_error'],
    [401, Anthropic.AuthenticationError, 'authentication_error'],
    [400, Anthropic.BadRequestError, 'invalid_request_error'],
    [529, Anthropic.InternalServerError, 'overloaded_error'],
    [500, Anthropic.InternalServerError, 'api_error'],
  ])('a scripted %i reaches the SDK as %o with Anthropic’s error body', async (status, cls, type) => {
    const err = await client()
      .messages.create({ model: 'm', max_tokens: 10, messages: MESSAGES }, script({ failStatus: status, retryAfterSeconds: 3 }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(cls);
    expect((err as InstanceType<typeof Anthropic.APIError>).status).toBe(status);
    expect((err as InstanceType<typeof Anthropic.APIError>).error).toEqual({ type: 'error', error: { type, message: expect.any(String) } });
    expect((err as InstanceType<typeof Anthropic.APIError>).headers?.get('retry-after')).toBe('3');
  });

  it('a mid-stream overloaded error event fails the SDK stream after the partial text', async () => {
    const stream = client().messages.stream({ model: 'm', max_tokens: 10, messages: MESSAGES }, script({ chunks: 5, errorAfterChunks: 2 }));
    let text = '';
    stream.on('text', (t) => (text += t));
    const err = await stream.finalMessage().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(String((err as Error).message)).toContain('overloaded_error');
    expect(text).toBe('hi hi ');
  });
});

describe('fake Anthropic wire details', () => {
  beforeEach(async () => {
    fake = await startFakeAnthropic({ behavior: { chunks: 2, chunkText: 'x' } });
  });

  it('writes message_start with the input usage and message_delta with the output usage (cumulative, no double count)', async () => {
    const res = await post({ model: 'm', max_tokens: 5, messages: MESSAGES, stream: true }, { 'x-fake-behavior': JSON.stringify({ chunkDelayMs: 2 }) });
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(res.headers.get('request-id')).toMatch(/^req_/);
    const events = sse(await res.text());
    expect(events.map((e) => e.event)).toEqual(['message_start', 'content_block_start', 'ping', 'content_block_delta', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
    for (const e of events) expect(e.data.type).toBe(e.event);
    expect(events[0]!.data).toMatchObject({ message: { usage: { input_tokens: PROMPT, output_tokens: 1 } } });
    expect(events[6]!.data).toEqual({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 2 } });
  });

  it.each([
    ['no anthropic-version header', { model: 'm', max_tokens: 5, messages: [] }, { 'anthropic-version': '' }, 'anthropic-version'],
    ['no max_tokens', { model: 'm', messages: [] }, {}, 'max_tokens'],
    ['no messages', { model: 'm', max_tokens: 5 }, {}, 'messages'],
  ])('refuses a request with %s (400 invalid_request_error)', async (_name, body, headers, word) => {
    const h: Record<string, string> = { ...headers };
    const res = await fetch(`${fake.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(h['anthropic-version'] === '' ? {} : { 'anthropic-version': '2023-06-01' }) },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining(word) } });
  });

  it('requires the configured key in x-api-key', async () => {
    await fake.close();
    fake = await startFakeAnthropic({ requireApiKey: 'sk-ant-right' });
    const wrong = await post({ model: 'm', max_tokens: 5, messages: MESSAGES }, { 'x-api-key': 'sk-ant-wrong' });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } });
    expect((await post({ model: 'm', max_tokens: 5, messages: MESSAGES }, { 'x-api-key': 'sk-ant-right' })).status).toBe(200);
  });

  it('breaks the connection mid-stream after breakAfterChunks', async () => {
    const res = await post({ model: 'm', max_tokens: 5, messages: MESSAGES, stream: true }, { 'x-fake-behavior': JSON.stringify({ chunks: 10, breakAfterChunks: 3 }) });
    await expect(res.text()).rejects.toThrow();
    await vi.waitFor(() => expect(fake.stats()).toMatchObject({ broken: 1, inFlight: 0 }));
    expect(fake.requests[0]).toMatchObject({ chunksSent: 3, broken: true });
  });

  it('waits ttftMs before the first event and honours latencyMs and hang', async () => {
    const t0 = performance.now();
    const res = await post({ model: 'm', max_tokens: 5, messages: MESSAGES, stream: true }, { 'x-fake-behavior': JSON.stringify({ latencyMs: 40, ttftMs: 80 }) });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(35);
    await res.body!.getReader().read();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(115);
    const controller = new AbortController();
    const pending = fetch(`${fake.url}/v1/messages`, {
      method: 'POST',
      headers: { 'anthropic-version': '2023-06-01', 'x-fake-behavior': '{"hang":true}' },
      body: JSON.stringify({ model: 'm', max_tokens: 5, messages: MESSAGES }),
      signal: controller.signal,
    });
    pending.catch(() => undefined);
    await vi.waitFor(() => expect(fake.requests).toHaveLength(2));
    expect(fake.requests[1]).toMatchObject({ status: null, completed: false });
    controller.abort();
    await expect(pending).rejects.toThrow();
    await vi.waitFor(() => expect(fake.stats().aborted).toBeGreaterThanOrEqual(1));
  });

  it('lists models in Anthropic’s shape', async () => {
    const list = await client().models.list();
    expect(list.data.map((m) => m.id)).toContain('claude-sonnet-4-20250514');
    expect(list.data[0]).toMatchObject({ type: 'model', display_name: expect.any(String) });
  });
});
