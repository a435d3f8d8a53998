import { describe, expect, it } from 'vitest';
import { decode, encode, fixture, fixtureJson, fold, onTheWire } from '../../test-support/fixtures';
import { ValidationError } from '../canonical/error.types';
import type { StreamEvent } from '../canonical/stream.types';
import { checkAnthropicVersion, parseAnthropicRequest, toAnthropicRequest } from './request';
import { parseAnthropicResponse, toAnthropicResponse } from './response';
import { AnthropicStreamDecoder, AnthropicStreamEncoder } from './stream';
import { parseAnthropicError, renderAnthropicError, renderAnthropicValidationError } from './errors';
import { AnthropicUsageTracker } from './usage';

function validationOf(body: unknown, opts?: { maxImageBytes?: number }): ValidationError {
  try {
    parseAnthropicRequest(body, opts);
  } catch (e) {
    if (e instanceof ValidationError) return e;
    throw e;
  }
  throw new Error('expected a ValidationError');
}

const base = { model: 'claude-sonnet-4-20250514', max_tokens: 1024 };

describe('Anthropic request parsing', () => {
  it('reads system blocks, images, tool_use/tool_result, thinking and sampling', () => {
    const req = parseAnthropicRequest({
      ...base,
      max_tokens: 16000,
      system: [{ type: 'text', text: 'You are a weather bot.' }],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Weather in SF?' }, { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: '/9j/4AAQ' } }] },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'Call the tool.', signature: 'sig1' },
            { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { location: 'SF' } },
          ],
        },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: '15 degrees', is_error: false }, { type: 'text', text: 'Thanks' }] },
      ],
      tools: [{ name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: { location: { type: 'string' } } } }],
      tool_choice: { type: 'any', disable_parallel_tool_use: true },
      thinking: { type: 'enabled', budget_tokens: 10000 },
      stop_sequences: ['###'],
      top_k: 5,
      metadata: { user_id: 'u-9' },
      stream: true,
    });
    expect(req).toEqual({
      model: 'claude-sonnet-4-20250514',
      system: 'You are a weather bot.',
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Weather in SF?' }, { type: 'image', source: { kind: 'base64', mediaType: 'image/jpeg', data: '/9j/4AAQ' } }] },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', text: 'Call the tool.', signature: 'sig1' },
            { type: 'tool_call', id: 'toolu_1', name: 'get_weather', arguments: '{"location":"SF"}' },
          ],
        },
        { role: 'tool', content: [{ type: 'tool_result', toolCallId: 'toolu_1', name: 'get_weather', content: [{ type: 'text', text: '15 degrees' }] }] },
        { role: 'user', content: [{ type: 'text', text: 'Thanks' }] },
      ],
      tools: [{ name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { location: { type: 'string' } } } }],
      toolChoice: { type: 'required' },
      parallelToolCalls: false,
      reasoning: { budgetTokens: 10000 },
      stop: ['###'],
      topK: 5,
      user: 'u-9',
      maxOutputTokens: 16000,
      stream: true,
      includeUsage: true,
    });
  });

  it.each([
    ['missing max_tokens', { model: 'm', messages: [] }, 'max_tokens'],
    ['missing model', { max_tokens: 5, messages: [] }, 'model'],
    ['messages as an object', { ...base, messages: {} }, 'messages'],
    ['unknown role', { ...base, messages: [{ role: 'system', content: 'x' }] }, 'messages[0].role'],
    ['content of the wrong type', { ...base, messages: [{ role: 'user', content: 42 }] }, 'messages[0].content'],
    ['tool_use in a user turn', { ...base, messages: [{ role: 'user', content: [{ type: 'tool_use', id: 'a', name: 'b', input: {} }] }] }, 'messages[0].content[0].type'],
    ['image without source', { ...base, messages: [{ role: 'user', content: [{ type: 'image' }] }] }, 'messages[0].content[0].source'],
    ['temperature above 1', { ...base, messages: [], temperature: 1.5 }, 'temperature'],
    ['thinking budget below 1024', { ...base, messages: [], thinking: { type: 'enabled', budget_tokens: 100 } }, 'thinking.budget_tokens'],
    ['thinking budget not below max_tokens', { ...base, messages: [], thinking: { type: 'enabled', budget_tokens: 2048 } }, 'thinking.budget_tokens'],
    ['a server tool', { ...base, messages: [], tools: [{ type: 'web_search_20250305', name: 'web_search' }] }, 'tools[0].type'],
  ])('refuses %s, naming the field', (_name, body, field) => {
    const err = validationOf(body);
    expect(err.field).toBe(field);
    const rendered = renderAnthropicValidationError(err);
    expect(rendered.status).toBe(400);
    expect(rendered.body).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining(field) } });
  });

  it('refuses a base64 image over the configured limit', () => {
    const body = { ...base, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'A'.repeat(1400) } }] }] };
    expect(validationOf(body, { maxImageBytes: 1000 })).toMatchObject({ field: 'messages[0].content[0].source.data', code: 'image_too_large' });
  });
});

describe('anthropic-version header', () => {
  it('accepts a supported version and refuses a missing or unknown one, naming the header', () => {
    expect(checkAnthropicVersion('2023-06-01')).toBe('2023-06-01');
    expect(() => checkAnthropicVersion(undefined)).toThrow(expect.objectContaining({ field: 'anthropic-version', status: 400, message: 'anthropic-version: header is required' }));
    expect(() => checkAnthropicVersion('1999-01-01')).toThrow(ValidationError);
  });
});

describe('Anthropic upstream request', () => {
  it('raises max_tokens above the thinking budget and drops sampling Anthropic refuses with thinking', () => {
    const out = toAnthropicRequest(
      { model: 'x', messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }], stream: true, includeUsage: true, maxOutputTokens: 1000, temperature: 0.5, reasoning: { effort: 'high' } },
      'claude-opus-4-1',
    );
    expect(out).toEqual({
      model: 'claude-opus-4-1',
      max_tokens: 24576 + 1000,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }],
      thinking: { type: 'enabled', budget_tokens: 24576 },
      stream: true,
    });
  });

  it('uses a default max_tokens, clamps temperature to 1 and asks for JSON in the system prompt', () => {
    const out = toAnthropicRequest(
      { model: 'x', system: 'S', messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }], stream: false, includeUsage: false, temperature: 1.7, responseFormat: { type: 'json_object' } },
      'claude',
      { defaultMaxTokens: 2048 },
    );
    expect(out).toMatchObject({ max_tokens: 2048, temperature: 1, system: 'S\n\nRespond with a single valid JSON object and nothing else.' });
  });

  it('sends tool results in the user turn that follows, merged with its text', () => {
    const req = parseAnthropicRequest({
      ...base,
      messages: [
        { role: 'user', content: 'Weather?' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'w', input: { c: 'P' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'sunny' }] }, { type: 'text', text: 'and?' }] },
      ],
    });
    expect(toAnthropicRequest(req, 'claude').messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Weather?' }] },
      { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'w', input: { c: 'P' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'sunny' }] }, { type: 'text', text: 'and?' }] },
    ]);
  });
});

describe('Anthropic responses', () => {
  it('messages-basic: input counts cache reads and writes, once each', () => {
    expect(parseAnthropicResponse(fixtureJson('anthropic', 'messages-basic.json'))).toEqual({
      id: 'msg_013Zva2CMHLNnXjNJJKqJ2EF',
      model: 'claude-sonnet-4-20250514',
      content: [{ type: 'text', text: 'Hi! My name is Claude.' }],
      finishReason: 'stop',
      rawFinishReason: 'end_turn',
      usage: { input: 2095 + 100 + 1800, output: 503, cachedInput: 1800, cacheWrite: 100, reasoning: 0 },
    });
  });

  it('messages-tools round-trips through the canonical form', () => {
    const wire = fixtureJson('anthropic', 'messages-tools.json');
    const canonical = parseAnthropicResponse(wire);
    expect(canonical.finishReason).toBe('tool_calls');
    expect(toAnthropicResponse(canonical)).toEqual(wire);
  });

  it.each([
    ['end_turn', 'stop'],
    ['stop_sequence', 'stop'],
    ['pause_turn', 'stop'],
    ['max_tokens', 'length'],
    ['model_context_window_exceeded', 'length'],
    ['tool_use', 'tool_calls'],
    ['refusal', 'content_filter'],
    ['brand_new_reason', 'stop'],
  ])('stop_reason %s → %s', (raw, want) => {
    expect(parseAnthropicResponse({ content: [], stop_reason: raw })).toMatchObject({ finishReason: want, rawFinishReason: raw });
  });
});

describe('Anthropic stream decoding', () => {
  it.each([0, 5])('messages-stream-basic (split every %i bytes)', (split) => {
    const events = decode(fixture('anthropic', 'messages-stream-basic.sse'), new AnthropicStreamDecoder(), split);
    expect(events).toEqual([
      { type: 'message_start', id: 'msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY', model: 'claude-sonnet-4-20250514' },
      { type: 'usage', usage: { input: 25, output: 1, cachedInput: 0, cacheWrite: 0, reasoning: 0 } },
      { type: 'text_delta', text: 'Hello' },
      { type: 'text_delta', text: '!' },
      { type: 'finish', reason: 'stop', rawReason: 'end_turn' },
      { type: 'usage', usage: { input: 25, output: 15, cachedInput: 0, cacheWrite: 0, reasoning: 0 } },
    ]);
  });

  it('messages-stream-tools: input_json_delta becomes tool-call argument deltas; cache reads counted once', () => {
    const d = new AnthropicStreamDecoder();
    const events = decode(fixture('anthropic', 'messages-stream-tools.sse'), d);
    expect(events.filter((e) => e.type.startsWith('tool_call'))).toEqual([
      { type: 'tool_call_start', index: 0, id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6', name: 'get_weather' },
      { type: 'tool_call_delta', index: 0, argumentsDelta: '{"location":' },
      { type: 'tool_call_delta', index: 0, argumentsDelta: ' "San Francisco, CA"}' },
      { type: 'tool_call_end', index: 0 },
    ]);
    expect(fold(events)).toMatchObject({ text: "Okay, let's check the weather.", finish: 'tool_calls' });
    expect(d.usage).toEqual({ input: 472 + 256, output: 89, cachedInput: 256, cacheWrite: 0, reasoning: 0 });
  });

  it('messages-stream-thinking: thinking deltas and the signature', () => {
    const events = decode(fixture('anthropic', 'messages-stream-thinking.sse'), new AnthropicStreamDecoder());
    const f = fold(events);
    expect(f.thinking).toBe('I need to find the GCD of 1071 and 462.\n\n1071 = 2 × 462 + 147');
    expect(f.text).toBe('The greatest common divisor of 1071 and 462 is **21**.');
    expect(events).toContainEqual({ type: 'thinking_signature', signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds' });
    expect(f.usage).toEqual({ input: 85, output: 1274, cachedInput: 0, cacheWrite: 0, reasoning: 0 });
  });

  it('messages-stream-error-overloaded: a mid-stream error event, input usage kept for billing', () => {
    const d = new AnthropicStreamDecoder();
    const events = decode(fixture('anthropic', 'messages-stream-error-overloaded.sse'), d);
    expect(events.at(-1)).toEqual({ type: 'error', error: { kind: 'overloaded', status: 500, message: 'Overloaded', providerType: 'overloaded_error' } });
    expect(events.filter((e) => e.type === 'error')).toHaveLength(1);
    expect(d.usage).toMatchObject({ input: 40, output: 1 });
  });

  it('never double counts usage repeated in message_delta (newer API versions repeat the input side)', () => {
    const t = new AnthropicUsageTracker();
    t.merge({ input_tokens: 100, output_tokens: 1, cache_read_input_tokens: 50, cache_creation_input_tokens: 10 });
    t.merge({ output_tokens: 20 });
    expect(t.merge({ input_tokens: 100, output_tokens: 42, cache_read_input_tokens: 50, cache_creation_input_tokens: 10 })).toEqual({
      input: 160,
      output: 42,
      cachedInput: 50,
      cacheWrite: 10,
      reasoning: 0,
    });
  });

  it('a stream cut before message_delta ends with a truncated error and the usage seen so far', () => {
    const text = fixture('anthropic', 'messages-stream-tools.sse').split('\n\n').slice(0, 9).join('\n\n');
    const d = new AnthropicStreamDecoder();
    const events = decode(text, d);
    expect(events.slice(-2)).toEqual([
      { type: 'tool_call_end', index: 0 },
      { type: 'error', error: expect.objectContaining({ kind: 'truncated' }) },
    ]);
    expect(d.usage).toMatchObject({ input: 728, output: 2 });
  });

  it.each([
    ['not JSON', 'event: content_block_delta\ndata: {"type":\n\n'],
    ['an unknown event type', 'event: future_event\ndata: {"type":"future_event","x":1}\n\n'],
    ['a delta for a block never started', 'event: content_block_delta\ndata: {"type":"content_block_delta","index":9,"delta":{"type":"input_json_delta","partial_json":"{}"}}\n\n'],
    ['an unknown delta type', 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"citations_delta"}}\n\n'],
  ])('ignores %s', (_name, bad) => {
    const [head, ...rest] = fixture('anthropic', 'messages-stream-basic.sse').split('\n\n');
    const f = fold(decode([head, bad.trimEnd(), ...rest].join('\n\n'), new AnthropicStreamDecoder()));
    expect(f).toMatchObject({ text: 'Hello!', finish: 'stop', errors: [] });
  });
});

describe('Anthropic stream encoding', () => {
  const events: StreamEvent[] = [
    { type: 'message_start', id: 'chatcmpl-1', model: 'gpt-4o' },
    { type: 'thinking_delta', text: 'hmm' },
    { type: 'text_delta', text: 'Hi' },
    { type: 'text_delta', text: '!' },
    { type: 'tool_call_start', index: 0, id: 'call_1', name: 'f' },
    { type: 'tool_call_delta', index: 0, argumentsDelta: '{"a":' },
    { type: 'tool_call_delta', index: 0, argumentsDelta: '1}' },
    { type: 'finish', reason: 'tool_calls', rawReason: 'tool_calls' },
    { type: 'tool_call_end', index: 0 },
    { type: 'usage', usage: { input: 30, output: 12, cachedInput: 10, cacheWrite: 0, reasoning: 4 } },
  ];

  it('writes the full event sequence message_start … message_stop with blocks, stop reason and usage', () => {
    const wire = onTheWire(encode(events, new AnthropicStreamEncoder()));
    expect(wire.map((w) => w.event)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    for (const w of wire) expect((w.data as { type: string }).type).toBe(w.event);
    expect(wire[0]!.data).toMatchObject({ message: { id: 'msg_chatcmpl-1', type: 'message', role: 'assistant', model: 'gpt-4o', content: [], stop_reason: null } });
    expect(wire[1]!.data).toEqual({ type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } });
    expect(wire[4]!.data).toEqual({ type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } });
    expect(wire[8]!.data).toEqual({ type: 'content_block_start', index: 2, content_block: { type: 'tool_use', id: 'call_1', name: 'f', input: {} } });
    expect(wire[9]!.data).toEqual({ type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: '{"a":' } });
    expect(wire[12]!.data).toEqual({
      type: 'message_delta',
      delta: { stop_reason: 'tool_use', stop_sequence: null },
      usage: { input_tokens: 20, output_tokens: 12, cache_read_input_tokens: 10, cache_creation_input_tokens: 0 },
    });
  });

  it('keeps arguments of interleaved parallel tool calls with their own block', () => {
    const wire = onTheWire(
      encode(
        [
          { type: 'message_start', id: 'm', model: 'x' },
          { type: 'tool_call_start', index: 0, id: 'a', name: 'f' },
          { type: 'tool_call_delta', index: 0, argumentsDelta: '{"x":' },
          { type: 'tool_call_start', index: 1, id: 'b', name: 'g' },
          { type: 'tool_call_delta', index: 1, argumentsDelta: '{"y":2}' },
          { type: 'tool_call_delta', index: 0, argumentsDelta: '1}' },
          { type: 'finish', reason: 'tool_calls', rawReason: null },
        ],
        new AnthropicStreamEncoder(),
      ),
    );
    const json = new Map<number, string>();
    for (const w of wire) {
      const d = w.data as { type: string; index: number; delta?: { type: string; partial_json?: string } };
      if (d.type === 'content_block_delta' && d.delta?.type === 'input_json_delta') json.set(d.index, (json.get(d.index) ?? '') + d.delta.partial_json);
    }
    expect(Object.fromEntries(json)).toEqual({ 0: '{"x":1}', 1: '{"y":2}' });
  });

  it('puts input usage known before the first content into message_start', () => {
    const wire = onTheWire(
      encode(
        [
          { type: 'message_start', id: 'msg_1', model: 'claude' },
          { type: 'usage', usage: { input: 25, output: 1, cachedInput: 0, cacheWrite: 0, reasoning: 0 } },
          { type: 'text_delta', text: 'x' },
        ],
        new AnthropicStreamEncoder(),
        false,
      ),
    );
    expect(wire[0]!.data).toMatchObject({ message: { id: 'msg_1', usage: { input_tokens: 25, output_tokens: 1 } } });
  });

  it('ends a failed stream with an error event and no message_stop', () => {
    const wire = onTheWire(encode([events[0]!, events[2]!, { type: 'error', error: { kind: 'rate_limit', status: 429, message: 'slow down' } }], new AnthropicStreamEncoder()));
    expect(wire.at(-1)).toEqual({ event: 'error', data: { type: 'error', error: { type: 'rate_limit_error', message: 'slow down' } } });
    expect(wire.some((w) => w.event === 'message_stop')).toBe(false);
  });
});

describe('Anthropic errors', () => {
  it('error-overloaded is a 529 overloaded error', () => {
    expect(parseAnthropicError(529, fixtureJson('anthropic', 'error-overloaded.json'))).toEqual({ kind: 'overloaded', status: 529, message: 'Overloaded', providerType: 'overloaded_error' });
    expect(parseAnthropicError(400, fixtureJson('anthropic', 'error-invalid-request.json'))).toMatchObject({ kind: 'invalid_request', message: 'max_tokens: Field required' });
  });

  it('renders any canonical error in Anthropic’s shape', () => {
    expect(renderAnthropicError({ kind: 'rate_limit', status: 429, message: 'm' })).toEqual({ status: 429, body: { type: 'error', error: { type: 'rate_limit_error', message: 'm' } } });
  });
});
