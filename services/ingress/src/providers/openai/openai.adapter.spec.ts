import { describe, expect, it } from 'vitest';
import type { PlanCandidate } from '@switchyard/contracts';
import { buildChatCompletionsRequest } from './api';
import { upstreamErrorFromResponse } from './errors';
import { OpenAIStreamObserver } from './stream';
import { readOpenAIUsage } from './usage';
import { toOpenAIError } from '../../errors/openai-error';
import { keyAccess } from '../../protocol/upstream-auth';

const candidate: PlanCandidate = {
  channel_id: 'c1',
  provider: 'openai',
  base_url: 'http://127.0.0.1:9001/v1/',
  upstream_model: 'gpt-4o-mini-2024-07-18',
  priority: 1,
  weight: 1,
  price: { input_nano_per_mtok: 0, output_nano_per_mtok: 0, cached_input_nano_per_mtok: 0 },
};

describe('buildChatCompletionsRequest', () => {
  it('sends the channel model id to the channel path with the credential', () => {
    const r = buildChatCompletionsRequest(candidate, { model: 'gpt-4o-mini', messages: [], route: { mode: 'race' } }, keyAccess('sk-up'));
    expect(r.origin).toBe('http://127.0.0.1:9001');
    expect(r.path).toBe('/v1/chat/completions');
    expect(r.headers.authorization).toBe('Bearer sk-up');
    const body = JSON.parse(r.body);
    expect(body.model).toBe('gpt-4o-mini-2024-07-18');
    expect(body).not.toHaveProperty('route');
  });

  it('asks for usage on streams, keeping the client’s other stream options', () => {
    const r = buildChatCompletionsRequest(candidate, { model: 'm', messages: [], stream: true, stream_options: { continuous_usage_stats: false } }, keyAccess(null));
    expect(JSON.parse(r.body).stream_options).toEqual({ continuous_usage_stats: false, include_usage: true });
    expect(r.headers).not.toHaveProperty('authorization');
  });

  it('addresses an Azure OpenAI deployment with the api-version and the api-key header', () => {
    const azure: PlanCandidate = { ...candidate, provider: 'azure-openai', base_url: 'https://res.openai.azure.com', upstream_model: 'gpt4o mini/prod' };
    const r = buildChatCompletionsRequest(azure, { model: 'gpt-4o-mini', messages: [] }, keyAccess('az-key', '2024-10-21'));
    expect(r.origin).toBe('https://res.openai.azure.com');
    expect(r.path).toBe('/openai/deployments/gpt4o%20mini%2Fprod/chat/completions?api-version=2024-10-21');
    expect(r.headers['api-key']).toBe('az-key');
    expect(r.headers).not.toHaveProperty('authorization');
    // A base that already ends in /openai is not doubled.
    const r2 = buildChatCompletionsRequest({ ...azure, base_url: 'https://res.openai.azure.com/openai/' }, { model: 'm', messages: [] }, keyAccess('k', '2025-01-01-preview'));
    expect(r2.path).toBe('/openai/deployments/gpt4o%20mini%2Fprod/chat/completions?api-version=2025-01-01-preview');
  });

  it('sends an OAuth access token as a Bearer token, on Azure too', () => {
    const azure: PlanCandidate = { ...candidate, provider: 'azure-openai', base_url: 'https://res.openai.azure.com' };
    const r = buildChatCompletionsRequest(azure, { model: 'm', messages: [] }, { token: 'at-1', scheme: 'bearer', apiVersion: '2024-10-21' });
    expect(r.headers.authorization).toBe('Bearer at-1');
    expect(r.headers).not.toHaveProperty('api-key');
  });
});

describe('readOpenAIUsage', () => {
  it('reads cached and reasoning tokens', () => {
    expect(
      readOpenAIUsage({ prompt_tokens: 10, completion_tokens: 5, prompt_tokens_details: { cached_tokens: 4 }, completion_tokens_details: { reasoning_tokens: 2 } }),
    ).toEqual({ input_tokens: 10, output_tokens: 5, cached_input_tokens: 4, reasoning_tokens: 2 });
  });
  it('returns null for missing or malformed usage', () => {
    expect(readOpenAIUsage(null)).toBeNull();
    expect(readOpenAIUsage({ foo: 1 })).toBeNull();
  });
});

describe('OpenAIStreamObserver', () => {
  const chunk = (o: unknown) => JSON.stringify(o);
  it('hides the usage-only chunk from a client that did not ask for usage, but records it', () => {
    const o = new OpenAIStreamObserver(false);
    expect(o.observe(chunk({ model: 'm1', choices: [{ index: 0, delta: { content: 'hi' }, finish_reason: null }] }))).toBe(true);
    expect(o.observe(chunk({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }))).toBe(true);
    expect(o.observe(chunk({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 1 } }))).toBe(false);
    expect(o.usage).toEqual({ input_tokens: 3, output_tokens: 1, cached_input_tokens: 0, reasoning_tokens: 0 });
    expect(o).toMatchObject({ model: 'm1', finished: true, sawContent: true });
    expect(o.output.chars).toBe(2);
  });
  it('forwards the usage chunk to a client that asked for it', () => {
    const o = new OpenAIStreamObserver(true);
    expect(o.observe(chunk({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 1 } }))).toBe(true);
  });
  it('counts tool-call deltas as content and forwards unparseable events untouched', () => {
    const o = new OpenAIStreamObserver(false);
    o.observe(chunk({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"a"' } }] } }] }));
    expect(o.sawContent).toBe(true);
    expect(o.observe('not json')).toBe(true);
  });

  describe('after the first content (ordinary chunks counted only when an estimate is asked for)', () => {
    const head = '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m1","choices":';
    const content = (text: string) => `${head}[{"index":0,"delta":{"content":${JSON.stringify(text)}},"logprobs":null,"finish_reason":null}],"usage":null}`;
    /** Records the text an estimate tokenizes, in order. */
    const recorder = () => {
      const seen: string[] = [];
      return { seen, counter: { kind: 'chars' as const, count: (t: string) => (seen.push(t), t.length) } };
    };

    it('estimates from every text in order, whatever the chunks looked like', () => {
      const o = new OpenAIStreamObserver(false);
      const events = [
        `${head}[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}`,
        content('Hello'),
        content(', "usage"'),
        content(' wörld \\u'),
        `${head}[{"index":0,"delta":{"reasoning_content":" (think)"},"finish_reason":null}]}`,
        `${head}[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"name":"f","arguments":"{}"}}]},"finish_reason":null}]}`,
        content('!'),
        `${head}[{"index":0,"delta":{},"finish_reason" : "stop"}],"usage":null}`,
      ];
      for (const e of events) expect(o.observe(e)).toBe(true);
      expect(o).toMatchObject({ model: 'm1', finished: true, sawToolCall: true, usage: null });
      const { seen, counter } = recorder();
      expect(o.output.tokens(counter)).toBe('Hello, "usage" wörld \\u (think)f{}!'.length);
      expect(seen).toEqual(['Hello, "usage" wörld \\u (think)f{}!']);
    });

    it('still sees usage, errors, a finish, a change of model and escaped keys on chunks that also carry content', () => {
      const o = new OpenAIStreamObserver(false);
      o.observe(content('a'));
      o.observe(content('b').replace('"model":"m1"', '"model":"m2"'));
      expect(o.model).toBe('m2');
      o.observe(content('c').replace('"finish_reason":null', '"finish_reason":"length"'));
      expect(o.finished).toBe(true);
      o.observe(content('d').replace('"usage":null', '"\\u0075sage":{"prompt_tokens":3,"completion_tokens":4}'));
      expect(o.usage).toEqual({ input_tokens: 3, output_tokens: 4, cached_input_tokens: 0, reasoning_tokens: 0 });
      o.observe(`${head}[],"usage":{"prompt_tokens":3,"completion_tokens":5}}`);
      expect(o.usage?.output_tokens).toBe(5);
      o.observe('{"error":{"message":"boom"}}');
      expect(o.upstreamError).toEqual({ message: 'boom' });
      expect(o.output.chars).toBe(4);
    });

    it('keeps the visible text for a mid-stream failover', () => {
      const o = new OpenAIStreamObserver(false, true);
      for (const t of ['one', ' two', ' three']) o.observe(content(t));
      expect(o).toMatchObject({ text: 'one two three', id: 'c1', created: 1 });
    });

    it('counts a long stream as it goes, with the same estimate', () => {
      const o = new OpenAIStreamObserver(false);
      for (let i = 0; i < 2000; i++) o.observe(content('lorem ipsum '));
      expect(o.output.chars).toBe(2000 * 'lorem ipsum '.length);
    });
  });
});

describe('upstream error classification', () => {
  it.each([
    [429, {}, 'rate_limit', true],
    [401, {}, 'auth', true],
    [402, {}, 'quota', true],
    [429, { error: { code: 'insufficient_quota' } }, 'quota', true],
    [500, {}, 'transient', true],
    [503, {}, 'transient', true],
    [400, {}, 'permanent', false],
  ] as const)('%d %j → %s (retry elsewhere: %s)', (status, body, cls, retryable) => {
    const err = upstreamErrorFromResponse(status, JSON.stringify(body), {}, 'openai', 'c1');
    expect(err.errorClass).toBe(cls);
    expect(err.retryable).toBe(retryable);
  });

  it('reads Retry-After as the channel cooldown', () => {
    expect(upstreamErrorFromResponse(429, '{}', { 'retry-after': '7' }, 'openai', 'c1').retryAfterMs).toBe(7_000);
  });

  it('passes an upstream 400 through in OpenAI shape', () => {
    const err = upstreamErrorFromResponse(400, JSON.stringify({ error: { message: 'bad temperature', type: 'invalid_request_error', param: 'temperature', code: null } }), {}, 'openai', 'c1');
    expect(err.status).toBe(400);
    expect(err.retryable).toBe(false);
    expect(toOpenAIError(err)).toEqual({ error: { message: 'bad temperature', type: 'invalid_request_error', param: 'temperature', code: null } });
  });

  it('never shows an upstream auth message (it is about the operator’s credential)', () => {
    const err = upstreamErrorFromResponse(401, JSON.stringify({ error: { message: 'Incorrect API key provided: sk-abc***' } }), {}, 'openai', 'c1');
    expect(err.retryable).toBe(true);
    expect(JSON.stringify(toOpenAIError(err))).not.toContain('sk-abc');
  });
});
