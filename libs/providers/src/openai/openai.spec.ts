import { describe, expect, it } from 'vitest';
import { decode, encode, fixture, fixtureJson, fold, onTheWire } from '../../test-support/fixtures';
import { ValidationError } from '../canonical/error.types';
import type { StreamEvent } from '../canonical/stream.types';
import { checkOpenAIChatRelay, parseOpenAIChatRequest, toOpenAIChatRequest } from './request';
import { parseOpenAIChatResponse, toOpenAIChatResponse } from './response';
import { OpenAIStreamDecoder, OpenAIStreamEncoder } from './stream';
import { parseOpenAIError, renderOpenAIError, renderOpenAIValidationError } from './errors';

const user = (content: unknown) => ({ role: 'user', content });

function validationOf(body: unknown, opts?: { maxImageBytes?: number }): ValidationError {
  try {
    parseOpenAIChatRequest(body, opts);
  } catch (e) {
    if (e instanceof ValidationError) return e;
    throw e;
  }
  throw new Error('expected a ValidationError');
}

describe('OpenAI request parsing', () => {
  it('reads everything clients send: system, images, tools, tool results, response_format, usage, reasoning', () => {
    const req = parseOpenAIChatRequest({
      model: 'gpt-4o',
      messages: [
        { role: 'developer', content: 'Be terse.' },
        user([
          { type: 'text', text: 'What is here?' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'low' } },
          { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
        ]),
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'look', arguments: '{"x":1}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'a cat' },
      ],
      tools: [{ type: 'function', function: { name: 'look', description: 'Looks', parameters: { type: 'object', properties: { x: { type: 'number' } } }, strict: true } }],
      tool_choice: { type: 'function', function: { name: 'look' } },
      parallel_tool_calls: false,
      response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object' }, strict: true } },
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 50,
      max_completion_tokens: 100,
      temperature: 0.2,
      top_p: 0.9,
      seed: 7,
      stop: 'END',
      reasoning_effort: 'high',
      user: 'u-1',
      n: 2,
    });
    expect(req).toEqual({
      model: 'gpt-4o',
      system: 'Be terse.',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is here?' },
            { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'iVBORw0KGgo=' }, detail: 'low' },
            { type: 'image', source: { kind: 'url', url: 'https://example.com/cat.png' } },
          ],
        },
        { role: 'assistant', content: [{ type: 'tool_call', id: 'call_1', name: 'look', arguments: '{"x":1}' }] },
        { role: 'tool', content: [{ type: 'tool_result', toolCallId: 'call_1', name: 'look', content: [{ type: 'text', text: 'a cat' }] }] },
      ],
      tools: [{ name: 'look', description: 'Looks', parameters: { type: 'object', properties: { x: { type: 'number' } } }, strict: true }],
      toolChoice: { type: 'tool', name: 'look' },
      parallelToolCalls: false,
      responseFormat: { type: 'json_schema', name: 'answer', schema: { type: 'object' }, strict: true },
      stream: true,
      includeUsage: true,
      maxOutputTokens: 100,
      temperature: 0.2,
      topP: 0.9,
      seed: 7,
      stop: ['END'],
      reasoning: { effort: 'high' },
      user: 'u-1',
      n: 2,
    });
  });

  it.each([
    ['missing model', { messages: [user('hi')] }, 'model', 'missing_required_parameter'],
    ['model of the wrong type', { model: 5, messages: [user('hi')] }, 'model', 'invalid_type'],
    ['messages not an array', { model: 'm', messages: 'hi' }, 'messages', 'invalid_type'],
    ['empty messages', { model: 'm', messages: [] }, 'messages', 'invalid_value'],
    ['unknown role', { model: 'm', messages: [{ role: 'wizard', content: 'hi' }] }, 'messages[0].role', 'invalid_value'],
    ['message without role', { model: 'm', messages: [{ content: 'hi' }] }, 'messages[0].role', 'missing_required_parameter'],
    ['unknown content part', { model: 'm', messages: [user([{ type: 'video', url: 'x' }])] }, 'messages[0].content[0].type', 'invalid_value'],
    ['temperature as a string', { model: 'm', messages: [user('hi')], temperature: 'hot' }, 'temperature', 'invalid_type'],
    ['temperature out of range', { model: 'm', messages: [user('hi')], temperature: 3 }, 'temperature', 'invalid_value'],
    ['max_tokens not an integer', { model: 'm', messages: [user('hi')], max_tokens: 1.5 }, 'max_tokens', 'invalid_type'],
    ['tool call without function', { model: 'm', messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 'c' }] }] }, 'messages[0].tool_calls[0].function', 'missing_required_parameter'],
    ['tool message without tool_call_id', { model: 'm', messages: [{ role: 'tool', content: 'x' }] }, 'messages[0].tool_call_id', 'missing_required_parameter'],
    ['unknown reasoning_effort', { model: 'm', messages: [user('hi')], reasoning_effort: 'max' }, 'reasoning_effort', 'invalid_value'],
    ['bad tool_choice', { model: 'm', messages: [user('hi')], tool_choice: 'sometimes' }, 'tool_choice', 'invalid_value'],
    ['body not an object', [1, 2], 'body', 'invalid_type'],
  ])('refuses %s, naming the field', (_name, body, field, code) => {
    const err = validationOf(body);
    expect({ field: err.field, code: err.code }).toEqual({ field, code });
    expect(err.message).toContain(field === 'body' ? 'body' : field);
    const rendered = renderOpenAIValidationError(err);
    expect(rendered.status).toBe(400);
    expect(rendered.body).toEqual({ error: { message: err.message, type: 'invalid_request_error', param: field, code } });
  });

  it('refuses a base64 image over the configured limit', () => {
    const data = 'A'.repeat(4000); // 3000 bytes
    const body = { model: 'm', messages: [user([{ type: 'image_url', image_url: { url: `data:image/png;base64,${data}` } }])] };
    expect(() => parseOpenAIChatRequest(body, { maxImageBytes: 3000 })).not.toThrow();
    const err = validationOf(body, { maxImageBytes: 2999 });
    expect(err).toMatchObject({ field: 'messages[0].content[0].image_url.url', code: 'image_too_large', status: 400 });
  });
});

describe('checkOpenAIChatRelay (a body relayed untranslated)', () => {
  function relayError(body: Record<string, unknown>, opts?: { maxImageBytes?: number }): ValidationError | null {
    try {
      checkOpenAIChatRelay(body, opts);
      return null;
    } catch (e) {
      if (e instanceof ValidationError) return e;
      throw e;
    }
  }

  it.each([
    ['temperature as a string', { temperature: 'hot' }, 'temperature'],
    ['top_p as a string', { top_p: '1' }, 'top_p'],
    ['max_tokens as a string', { max_tokens: '100' }, 'max_tokens'],
    ['max_completion_tokens as a fraction', { max_completion_tokens: 1.5 }, 'max_completion_tokens'],
    ['n as a string', { n: '2' }, 'n'],
    ['tools as an object', { tools: { type: 'function' } }, 'tools'],
    ['stream_options as a string', { stream_options: 'usage' }, 'stream_options'],
    ['stop as a number', { stop: 5 }, 'stop'],
    ['a message content as a number', { messages: [user(42)] }, 'messages[0].content'],
    ['a content part that is not an object', { messages: [user(['hi'])] }, 'messages[0].content[0]'],
    ['an image_url without its url', { messages: [user([{ type: 'image_url', image_url: {} }])] }, 'messages[0].content[0].image_url.url'],
    ['a malformed data URL', { messages: [user([{ type: 'image_url', image_url: { url: 'data:image/png,xyz' } }])] }, 'messages[0].content[0].image_url.url'],
  ])('refuses %s, naming the field as the translating parser does', (_name, extra, field) => {
    const body = { model: 'm', messages: [user('hi')], ...extra };
    expect(relayError(body)).toMatchObject({ field, status: 400 });
    expect(validationOf(body)).toMatchObject({ field });
  });

  it('refuses a base64 image over the limit, and nothing else about images', () => {
    const data = 'A'.repeat(4000); // 3000 bytes
    const body = { model: 'm', messages: [user([{ type: 'text', text: 'x' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${data}` } }])] };
    expect(relayError(body, { maxImageBytes: 3000 })).toBeNull();
    expect(relayError(body, { maxImageBytes: 2999 })).toMatchObject({ field: 'messages[0].content[1].image_url.url', code: 'image_too_large' });
    expect(relayError({ model: 'm', messages: [user([{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }])] }, { maxImageBytes: 1 })).toBeNull();
  });

  it('leaves what only the upstream knows to the upstream: unknown fields, part types, out-of-range values', () => {
    const body = {
      model: 'm',
      temperature: 7,
      max_tokens: 0,
      some_new_field: { x: 1 },
      messages: [user([{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }]), { role: 'assistant', content: null, tool_calls: [] }],
    };
    expect(relayError(body)).toBeNull();
  });
});

describe('OpenAI upstream request', () => {
  it('asks for usage on streams, maps max tokens and effort, and sends images as data URLs', () => {
    const canonical = parseOpenAIChatRequest({
      model: 'gpt-4o',
      messages: [user([{ type: 'image_url', image_url: { url: 'data:image/jpeg;base64,AAAA' } }])],
      stream: true,
      max_tokens: 9,
      reasoning_effort: 'low',
    });
    expect(toOpenAIChatRequest(canonical, 'gpt-4o-2024-08-06')).toEqual({
      model: 'gpt-4o-2024-08-06',
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/jpeg;base64,AAAA' } }] }],
      max_completion_tokens: 9,
      reasoning_effort: 'low',
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('rebuilds the same conversation it parsed (tool calls and results included)', () => {
    const body = {
      model: 'm',
      messages: [
        { role: 'system', content: 'S' },
        { role: 'user', content: 'Weather?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'w', arguments: '{"c":"P"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
      ],
      tools: [{ type: 'function', function: { name: 'w', parameters: { type: 'object' } } }],
      tool_choice: 'required',
      response_format: { type: 'json_object' },
    };
    const out = toOpenAIChatRequest(parseOpenAIChatRequest(body), 'm');
    expect(out).toEqual({ ...body, response_format: { type: 'json_object' } });
  });
});

describe('OpenAI responses', () => {
  it('chat-basic: text, finish and exact usage', () => {
    expect(parseOpenAIChatResponse(fixtureJson('openai', 'chat-basic.json'))).toEqual({
      id: 'chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT',
      model: 'gpt-4.1-2025-04-14',
      content: [{ type: 'text', text: 'Hello! How can I assist you today?' }],
      finishReason: 'stop',
      rawFinishReason: 'stop',
      usage: { input: 19, output: 10, cachedInput: 0, cacheWrite: 0, reasoning: 0 },
    });
  });

  it('chat-tools: parallel tool calls and cached tokens', () => {
    const r = parseOpenAIChatResponse(fixtureJson('openai', 'chat-tools.json'));
    expect(r.finishReason).toBe('tool_calls');
    expect(r.content).toEqual([
      { type: 'tool_call', id: 'call_abc123', name: 'get_current_weather', arguments: '{\n"location": "Boston, MA"\n}' },
      { type: 'tool_call', id: 'call_def456', name: 'get_current_weather', arguments: '{"location": "Paris"}' },
    ]);
    expect(r.usage).toEqual({ input: 82, output: 17, cachedInput: 64, cacheWrite: 0, reasoning: 0 });
  });

  it('renders a canonical response back into the same chat.completion', () => {
    const wire = fixtureJson('openai', 'chat-tools.json') as Record<string, unknown>;
    const back = toOpenAIChatResponse(parseOpenAIChatResponse(wire), { created: 1699896916 });
    expect(back).toMatchObject({ id: 'chatcmpl-abc123', object: 'chat.completion', created: 1699896916, model: 'gpt-4o-mini' });
    expect(back.choices[0]!.message.tool_calls).toEqual((wire.choices as Array<{ message: { tool_calls: unknown } }>)[0]!.message.tool_calls);
    expect(back.choices[0]!.finish_reason).toBe('tool_calls');
    expect(back.usage).toMatchObject({ prompt_tokens: 82, completion_tokens: 17, total_tokens: 99, prompt_tokens_details: { cached_tokens: 64 } });
  });

  it.each([
    ['stop', 'stop'],
    ['length', 'length'],
    ['tool_calls', 'tool_calls'],
    ['function_call', 'tool_calls'],
    ['content_filter', 'content_filter'],
    ['something_new', 'stop'],
  ])('finish_reason %s → %s', (raw, want) => {
    const r = parseOpenAIChatResponse({ choices: [{ message: { content: 'x' }, finish_reason: raw }] });
    expect(r).toMatchObject({ finishReason: want, rawFinishReason: raw });
  });
});

describe('OpenAI stream decoding', () => {
  it.each([0, 7])('chat-stream-basic (split every %i bytes): text, finish, usage', (split) => {
    const events = decode(fixture('openai', 'chat-stream-basic.sse'), new OpenAIStreamDecoder(), split);
    expect(events).toEqual([
      { type: 'message_start', id: 'chatcmpl-123', model: 'gpt-4o-mini' },
      { type: 'text_delta', text: 'Hello' },
      { type: 'text_delta', text: ' there' },
      { type: 'finish', reason: 'stop', rawReason: 'stop' },
      { type: 'usage', usage: { input: 9, output: 2, cachedInput: 0, cacheWrite: 0, reasoning: 0 } },
    ]);
  });

  it('chat-stream-tools: parallel tool calls with argument deltas', () => {
    const events = decode(fixture('openai', 'chat-stream-tools.sse'), new OpenAIStreamDecoder());
    expect(events.filter((e) => e.type.startsWith('tool_call'))).toEqual([
      { type: 'tool_call_start', index: 0, id: 'call_DdmO9pD3xa9XTPNJ32zg2hcA', name: 'get_weather' },
      { type: 'tool_call_delta', index: 0, argumentsDelta: '{"location":' },
      { type: 'tool_call_delta', index: 0, argumentsDelta: ' "Paris"}' },
      { type: 'tool_call_start', index: 1, id: 'call_Xa9XTPNJ32zg2hcADdmO9pD3', name: 'get_weather' },
      { type: 'tool_call_delta', index: 1, argumentsDelta: '{"location": "Bogotá"}' },
      { type: 'tool_call_end', index: 0 },
      { type: 'tool_call_end', index: 1 },
    ]);
    expect(fold(events)).toMatchObject({ finish: 'tool_calls', usage: { input: 71, output: 40 } });
  });

  it('chat-stream-reasoning: reasoning_content deltas and reasoning tokens', () => {
    const d = new OpenAIStreamDecoder();
    const f = fold(decode(fixture('openai', 'chat-stream-reasoning.sse'), d));
    expect(f).toMatchObject({ thinking: 'Two plus two', text: '4', finish: 'stop' });
    expect(d.usage).toEqual({ input: 12, output: 30, cachedInput: 0, cacheWrite: 0, reasoning: 28 });
  });

  it.each([
    ['not JSON', 'data: {"choices": [\n\n'],
    ['JSON but not an object', 'data: 42\n\n'],
    ['a choice without delta', 'data: {"choices":[{"index":0}]}\n\n'],
    ['tool call without index or id', 'data: {"choices":[{"index":0,"delta":{"tool_calls":[{"function":{"arguments":"{}"}}]}}]}\n\n'],
  ])('survives a malformed event (%s) and still reports the rest', (_name, bad) => {
    const text = 'data: {"id":"c","model":"m","choices":[{"index":0,"delta":{"content":"a"}}]}\n\n' + bad + 'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n';
    const f = fold(decode(text, new OpenAIStreamDecoder()));
    expect(f).toMatchObject({ text: 'a', finish: 'stop', errors: [] });
  });

  it('a truncated stream (no finish) ends with a truncated error, after closing open tool calls', () => {
    const text = fixture('openai', 'chat-stream-tools.sse').split('\n\n').slice(0, 3).join('\n\n');
    const events = decode(text, new OpenAIStreamDecoder());
    expect(events.slice(-2)).toEqual([
      { type: 'tool_call_end', index: 0 },
      { type: 'error', error: { kind: 'truncated', status: 502, message: expect.any(String) } },
    ]);
  });

  it('an upstream error event becomes a canonical error', () => {
    const events = decode('data: {"error":{"message":"overloaded","type":"server_error","param":null,"code":null}}\n\n', new OpenAIStreamDecoder());
    expect(events).toEqual([{ type: 'error', error: { kind: 'server', status: 500, message: 'overloaded', providerType: 'server_error' } }]);
  });
});

describe('OpenAI stream encoding', () => {
  const events: StreamEvent[] = [
    { type: 'message_start', id: 'msg_1', model: 'claude-x' },
    { type: 'thinking_delta', text: 'hmm' },
    { type: 'text_delta', text: 'Hi' },
    { type: 'tool_call_start', index: 0, id: 'toolu_1', name: 'f' },
    { type: 'tool_call_delta', index: 0, argumentsDelta: '{"a":' },
    { type: 'tool_call_delta', index: 0, argumentsDelta: '1}' },
    { type: 'tool_call_end', index: 0 },
    { type: 'finish', reason: 'tool_calls', rawReason: 'tool_use' },
    { type: 'usage', usage: { input: 5, output: 6, cachedInput: 1, cacheWrite: 0, reasoning: 0 } },
  ];

  it('writes role, reasoning, content, tool-call deltas, finish, usage chunk and [DONE]', () => {
    const wire = onTheWire(encode(events, new OpenAIStreamEncoder({ created: 100, includeUsage: true })));
    const chunks = wire.slice(0, -1).map((w) => w.data) as Array<{ id: string; model: string; choices: Array<{ delta: unknown; finish_reason: unknown }>; usage: unknown }>;
    expect(wire.at(-1)).toEqual({ event: undefined, data: '[DONE]' });
    expect(new Set(chunks.map((c) => c.id))).toEqual(new Set(['chatcmpl-msg_1']));
    expect(chunks.slice(0, -1).map((c) => [c.choices[0]!.delta, c.choices[0]!.finish_reason])).toEqual([
      [{ role: 'assistant', content: '' }, null],
      [{ reasoning_content: 'hmm' }, null],
      [{ content: 'Hi' }, null],
      [{ tool_calls: [{ index: 0, id: 'toolu_1', type: 'function', function: { name: 'f', arguments: '' } }] }, null],
      [{ tool_calls: [{ index: 0, function: { arguments: '{"a":' } }] }, null],
      [{ tool_calls: [{ index: 0, function: { arguments: '1}' } }] }, null],
      [{}, 'tool_calls'],
    ]);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 6, total_tokens: 11, prompt_tokens_details: { cached_tokens: 1 } } });
  });

  it('leaves out the usage chunk when the client did not ask for it', () => {
    const wire = onTheWire(encode(events, new OpenAIStreamEncoder({ created: 100, includeUsage: false })));
    expect(wire.some((w) => typeof w.data === 'object' && (w.data as { choices: unknown[] }).choices.length === 0)).toBe(false);
    expect(wire.at(-1)!.data).toBe('[DONE]');
  });

  it('ends a failed stream with an OpenAI error event and no [DONE]', () => {
    const enc = new OpenAIStreamEncoder({ created: 1, includeUsage: false });
    const wire = onTheWire(encode([events[0]!, events[2]!, { type: 'error', error: { kind: 'overloaded', status: 529, message: 'Overloaded' } }], enc));
    expect(wire.at(-1)).toEqual({ event: undefined, data: { error: { message: 'Overloaded', type: 'server_error', param: null, code: null } } });
  });
});

describe('OpenAI errors', () => {
  it('error-rate-limit and error-insufficient-quota are classified', () => {
    expect(parseOpenAIError(429, fixtureJson('openai', 'error-rate-limit.json'))).toMatchObject({ kind: 'rate_limit', status: 429, code: 'rate_limit_exceeded' });
    expect(parseOpenAIError(429, fixtureJson('openai', 'error-insufficient-quota.json'))).toMatchObject({ kind: 'permission', code: 'insufficient_quota' });
  });

  it('renders Anthropic’s 529 overloaded as a 503 for OpenAI clients', () => {
    expect(renderOpenAIError({ kind: 'overloaded', status: 529, message: 'Overloaded' })).toEqual({
      status: 503,
      body: { error: { message: 'Overloaded', type: 'server_error', param: null, code: null } },
    });
  });
});
