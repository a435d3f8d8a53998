import { describe, expect, it } from 'vitest';
// The SDK's own stream accumulator: what `client.responses.stream()` builds its snapshots with.
import { accumulateResponse } from 'openai/lib/responses/ResponseAccumulator';
import type { Response as SdkResponse, ResponseStreamEvent } from 'openai/resources/responses/responses';
import { decode, encode, fixture, fixtureJson, onTheWire } from '../../test-support/fixtures';
import { ValidationError } from '../canonical/error.types';
import type { CanonicalRequest } from '../canonical/request.types';
import type { CanonicalResponse, CanonicalUsage } from '../canonical/response.types';
import type { StreamEvent } from '../canonical/stream.types';
import { AnthropicStreamDecoder } from '../anthropic/stream';
import { GeminiStreamDecoder } from '../gemini/stream';
import { parseAnthropicResponse } from '../anthropic/response';
import { OpenAIStreamDecoder } from '../openai/stream';
import { parseOpenAIChatResponse } from '../openai/response';
import { CLIENT_PROTOCOLS } from '../protocols';
import { parseResponsesRequest } from './request';
import { toResponsesResponse } from './response';
import { ResponsesStreamEncoder } from './stream';
import type { ResponsesResponse } from './types';

const REQUEST_ID = '0b6c1e2a-4f4e-4a43-9b1e-2f0d6c7a8b9c';
const RESP_ID = 'resp_0b6c1e2a4f4e4a439b1e2f0d6c7a8b9c';

function validationOf(body: unknown, opts?: { maxImageBytes?: number }): ValidationError {
  try {
    parseResponsesRequest(body, opts);
  } catch (e) {
    if (e instanceof ValidationError) return e;
    throw e;
  }
  throw new Error('expected a ValidationError');
}

describe('Responses request parsing', () => {
  it('request-text: a string input with instructions, limits and sampling', () => {
    expect(parseResponsesRequest(fixtureJson('openai-responses', 'request-text.json'))).toEqual({
      model: 'gpt-4.1',
      system: 'You are a storyteller.',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Tell me a three sentence bedtime story about a unicorn.' }] }],
      maxOutputTokens: 300,
      temperature: 0.7,
      topP: 0.9,
      user: 'user-1234',
      stream: false,
      includeUsage: false,
    });
  });

  it('request-multimodal: input_text and input_image (URL and data URL, detail kept)', () => {
    const req = parseResponsesRequest(fixtureJson('openai-responses', 'request-multimodal.json'));
    expect(req.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'what is in this image?' },
          { type: 'image', source: { kind: 'url', url: expect.stringMatching(/^https:\/\/upload\.wikimedia\.org\//) }, detail: 'auto' },
          { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'iVBORw0KGgo=' }, detail: 'low' },
        ],
      },
    ]);
  });

  it('request-tools: function tools, tool_choice, and a function_call round trip in one assistant turn and one tool turn', () => {
    const req = parseResponsesRequest(fixtureJson('openai-responses', 'request-tools.json'));
    expect(req.system).toBe('Use the tools.');
    expect(req.tools).toEqual([
      {
        name: 'get_weather',
        description: 'Get current temperature for a given location.',
        parameters: {
          type: 'object',
          properties: { location: { type: 'string', description: 'City and country e.g. Bogotá, Colombia' } },
          required: ['location'],
          additionalProperties: false,
        },
        strict: true,
      },
    ]);
    expect(req.toolChoice).toEqual({ type: 'tool', name: 'get_weather' });
    expect(req.parallelToolCalls).toBe(true);
    expect(req.stream).toBe(true);
    expect(req.includeUsage).toBe(true);
    expect(req.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'What is the weather like in Paris and Bogotá today?' }] },
      {
        role: 'assistant',
        content: [
          { type: 'thinking', text: 'Two cities: two calls.', signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds' },
          { type: 'text', text: 'Checking both.' },
          { type: 'tool_call', id: 'call_paris', name: 'get_weather', arguments: '{"location":"Paris, France"}' },
          { type: 'tool_call', id: 'call_bogota', name: 'get_weather', arguments: '{"location":"Bogotá, Colombia"}' },
        ],
      },
      {
        role: 'tool',
        content: [
          { type: 'tool_result', toolCallId: 'call_paris', name: 'get_weather', content: [{ type: 'text', text: '{"temperature": 14}' }] },
          { type: 'tool_result', toolCallId: 'call_bogota', name: 'get_weather', content: [{ type: 'text', text: '{"temperature": 19}' }] },
        ],
      },
    ]);
  });

  it('request-json-schema: text.format json_schema and reasoning effort', () => {
    const req = parseResponsesRequest(fixtureJson('openai-responses', 'request-json-schema.json'));
    expect(req.system).toBe('Extract the event information.');
    expect(req.reasoning).toEqual({ effort: 'minimal' });
    expect(req.responseFormat).toMatchObject({ type: 'json_schema', name: 'calendar_event', strict: true, schema: { type: 'object', required: ['name', 'date', 'participants'] } });
    expect(parseResponsesRequest({ model: 'm', input: 'x', text: { format: { type: 'json_object' } } }).responseFormat).toEqual({ type: 'json_object' });
    expect(parseResponsesRequest({ model: 'm', input: 'x', reasoning: { effort: 'xhigh' } }).reasoning).toEqual({ effort: 'high' });
  });

  it('reasoning items without encrypted_content are dropped (nothing an upstream could verify)', () => {
    const req = parseResponsesRequest({ model: 'm', input: [{ role: 'user', content: 'q' }, { type: 'reasoning', id: 'rs_1', summary: [{ type: 'summary_text', text: 'hm' }] }, { role: 'assistant', content: 'a' }] });
    expect(req.messages[1]).toEqual({ role: 'assistant', content: [{ type: 'text', text: 'a' }] });
  });

  const malformed: Array<[string, unknown, string, string]> = [
    ['not an object', [1], 'body', 'invalid_type'],
    ['missing model', { input: 'hi' }, 'model', 'missing_required_parameter'],
    ['model not a string', { model: 4, input: 'hi' }, 'model', 'invalid_type'],
    ['missing input', { model: 'm' }, 'input', 'missing_required_parameter'],
    ['input a number', { model: 'm', input: 42 }, 'input', 'invalid_type'],
    ['input with only instructions-like items', { model: 'm', input: [{ role: 'system', content: 'S' }] }, 'input', 'invalid_value'],
    ['unknown role', { model: 'm', input: [{ role: 'wizard', content: 'hi' }] }, 'input[0].role', 'invalid_value'],
    ['content a number', { model: 'm', input: [{ role: 'user', content: 3 }] }, 'input[0].content', 'invalid_type'],
    ['unknown part type', { model: 'm', input: [{ role: 'user', content: [{ type: 'text', text: 'x' }] }] }, 'input[0].content[0].type', 'invalid_value'],
    ['input_file', { model: 'm', input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'f' }] }] }, 'input[0].content[0].type', 'unsupported_parameter'],
    ['image by file_id', { model: 'm', input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'file-1', detail: 'auto' }] }] }, 'input[0].content[0].file_id', 'unsupported_parameter'],
    ['broken data URL', { model: 'm', input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'data:image/png,xx' }] }] }, 'input[0].content[0].image_url', 'invalid_value'],
    ['function_call without call_id', { model: 'm', input: [{ type: 'function_call', name: 'f', arguments: '{}' }] }, 'input[0].call_id', 'missing_required_parameter'],
    ['function_call_output without output', { model: 'm', input: [{ type: 'function_call_output', call_id: 'c' }] }, 'input[0].output', 'invalid_value'],
    ['item_reference (stored items)', { model: 'm', input: [{ type: 'item_reference', id: 'msg_1' }] }, 'input[0].type', 'unsupported_parameter'],
    ['a hosted-tool item', { model: 'm', input: [{ type: 'web_search_call', id: 'ws_1' }] }, 'input[0].type', 'unsupported_parameter'],
    ['previous_response_id', { model: 'm', input: 'hi', previous_response_id: 'resp_1' }, 'previous_response_id', 'unsupported_parameter'],
    ['conversation', { model: 'm', input: 'hi', conversation: 'conv_1' }, 'conversation', 'unsupported_parameter'],
    ['background', { model: 'm', input: 'hi', background: true }, 'background', 'unsupported_parameter'],
    ['built-in tool web_search', { model: 'm', input: 'hi', tools: [{ type: 'web_search' }] }, 'tools[0].type', 'unsupported_parameter'],
    ['function tool without name', { model: 'm', input: 'hi', tools: [{ type: 'function', parameters: {} }] }, 'tools[0].name', 'missing_required_parameter'],
    ['tool_choice a hosted tool', { model: 'm', input: 'hi', tool_choice: { type: 'file_search' } }, 'tool_choice.type', 'unsupported_parameter'],
    ['tool_choice a number', { model: 'm', input: 'hi', tool_choice: 3 }, 'tool_choice', 'invalid_value'],
    ['temperature out of range', { model: 'm', input: 'hi', temperature: 3 }, 'temperature', 'invalid_value'],
    ['max_output_tokens not an integer', { model: 'm', input: 'hi', max_output_tokens: 1.5 }, 'max_output_tokens', 'invalid_type'],
    ['stream not a boolean', { model: 'm', input: 'hi', stream: 'yes' }, 'stream', 'invalid_type'],
    ['store not a boolean', { model: 'm', input: 'hi', store: 'no' }, 'store', 'invalid_type'],
    ['unknown reasoning effort', { model: 'm', input: 'hi', reasoning: { effort: 'extreme' } }, 'reasoning.effort', 'invalid_value'],
    ['unknown text format', { model: 'm', input: 'hi', text: { format: { type: 'yaml' } } }, 'text.format.type', 'invalid_value'],
    ['json_schema without schema', { model: 'm', input: 'hi', text: { format: { type: 'json_schema', name: 'x' } } }, 'text.format.schema', 'missing_required_parameter'],
  ];
  it.each(malformed)('rejects %s (field %s)', (_name, body, field, code) => {
    const e = validationOf(body);
    expect(e.field).toBe(field);
    expect(e.code).toBe(code);
    expect(e.status).toBe(400);
  });

  it('rejects an image over the limit, as the other surfaces do', () => {
    const e = validationOf({ model: 'm', input: [{ role: 'user', content: [{ type: 'input_image', image_url: `data:image/png;base64,${'A'.repeat(400)}` }] }] }, { maxImageBytes: 100 });
    expect(e.code).toBe('image_too_large');
    expect(e.field).toBe('input[0].content[0].image_url');
  });

  it('accepts store and metadata without honouring them', () => {
    expect(() => parseResponsesRequest({ model: 'm', input: 'hi', store: true, metadata: { a: 'b' }, include: ['reasoning.encrypted_content'] })).not.toThrow();
  });
});

const USAGE: CanonicalUsage = { input: 2095, output: 503, cachedInput: 1800, cacheWrite: 100, reasoning: 0 };

describe('Responses response rendering', () => {
  it('chat-basic via Anthropic: one message item, usage with cached tokens, id from the request id', () => {
    const res = parseAnthropicResponse(fixtureJson('anthropic', 'messages-basic.json'));
    const out = toResponsesResponse(res, { created: 1700000000, requestId: REQUEST_ID });
    expect(out).toMatchObject({
      id: RESP_ID,
      object: 'response',
      created_at: 1700000000,
      status: 'completed',
      error: null,
      incomplete_details: null,
      model: 'claude-sonnet-4-20250514',
      output: [{ type: 'message', id: `msg_${RESP_ID.slice(5)}_0`, role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'Hi! My name is Claude.', annotations: [] }] }],
      usage: { input_tokens: 3995, input_tokens_details: { cached_tokens: 1800, cache_write_tokens: 100 }, output_tokens: 503, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 4498 },
    });
  });

  it('chat-tools via OpenAI: function_call items with call_id, name and arguments', () => {
    const res = parseOpenAIChatResponse(fixtureJson('openai', 'chat-tools.json'));
    const out = toResponsesResponse(res, { created: 1 });
    const calls = out.output.filter((o) => o.type === 'function_call');
    expect(calls.length).toBeGreaterThan(0);
    for (const c of calls) expect(c).toMatchObject({ type: 'function_call', call_id: expect.any(String), name: expect.any(String), arguments: expect.any(String), status: 'completed' });
    expect(out.id.startsWith('resp_')).toBe(true);
  });

  it('reasoning usage: a reasoning item first, reasoning tokens in output_tokens_details', () => {
    const res: CanonicalResponse = {
      id: 'msg_1',
      model: 'm',
      content: [
        { type: 'thinking', text: 'Let me think.', signature: 'sig-1' },
        { type: 'text', text: 'Answer.' },
      ],
      finishReason: 'stop',
      rawFinishReason: 'end_turn',
      usage: { ...USAGE, reasoning: 120 },
    };
    const out = toResponsesResponse(res, { created: 1 });
    expect(out.output).toEqual([
      { type: 'reasoning', id: 'rs_msg_1_0', summary: [], content: [{ type: 'reasoning_text', text: 'Let me think.' }], encrypted_content: 'sig-1' },
      { type: 'message', id: 'msg_msg_1_1', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'Answer.', annotations: [], logprobs: [] }] },
    ]);
    expect(out.usage!.output_tokens_details.reasoning_tokens).toBe(120);
  });

  it('max tokens: status incomplete with incomplete_details', () => {
    const res: CanonicalResponse = { id: 'x', model: 'm', content: [{ type: 'text', text: 'Once upon' }], finishReason: 'length', rawFinishReason: 'max_tokens', usage: USAGE };
    const out = toResponsesResponse(res, { created: 1 });
    expect(out.status).toBe('incomplete');
    expect(out.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(out.output[0]).toMatchObject({ status: 'incomplete' });
  });

  it('echoes the request: instructions, tools, tool_choice, text format, sampling', () => {
    const request = parseResponsesRequest(fixtureJson('openai-responses', 'request-tools.json'));
    const out = toResponsesResponse({ id: 'x', model: 'm', content: [], finishReason: 'stop', rawFinishReason: null, usage: null }, { created: 1, request });
    expect(out).toMatchObject({
      instructions: 'Use the tools.',
      tool_choice: { type: 'function', name: 'get_weather' },
      tools: [{ type: 'function', name: 'get_weather', strict: true }],
      parallel_tool_calls: true,
      text: { format: { type: 'text' } },
      store: false,
      previous_response_id: null,
    });
  });
});

/** Runs an encoder's wire output through the SDK's accumulator, as `client.responses.stream()` does. */
function sdkView(wire: ReturnType<typeof encode>) {
  const events = onTheWire(wire) as Array<{ event: string; data: ResponseStreamEvent }>;
  let snapshot: SdkResponse | undefined;
  for (const e of events) {
    expect(e.event).toBe(e.data.type);
    snapshot = accumulateResponse(e.data, snapshot);
  }
  return { events: events.map((e) => e.data), snapshot: snapshot! };
}

function encodeUpstream(protocol: 'anthropic' | 'openai' | 'gemini', file: string, opts: { request?: CanonicalRequest } = {}) {
  const decoder = protocol === 'anthropic' ? new AnthropicStreamDecoder() : protocol === 'gemini' ? new GeminiStreamDecoder() : new OpenAIStreamDecoder();
  const events = decode(fixture(protocol, file), decoder, 7);
  return encode(events, new ResponsesStreamEncoder({ created: 1700000000, requestId: REQUEST_ID, now: () => 1700000005000, ...opts }));
}

describe('Responses stream encoding, judged by the openai SDK’s accumulator', () => {
  it('text (Anthropic messages-stream-basic): the documented sequence, numbered, completed with usage', () => {
    const { events, snapshot } = sdkView(encodeUpstream('anthropic', 'messages-stream-basic.sse'));
    const types = events.map((e) => e.type);
    expect(types.slice(0, 4)).toEqual(['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
    expect(types.slice(-4)).toEqual(['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed']);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    const deltas = events.flatMap((e) => (e.type === 'response.output_text.delta' ? [e.delta] : []));
    expect(deltas.length).toBeGreaterThan(1);
    expect(snapshot.status).toBe('completed');
    expect(snapshot.id).toBe(RESP_ID);
    expect(snapshot.completed_at).toBe(1700000005);
    expect(snapshot.output_text).toBe(deltas.join(''));
    expect(snapshot.usage).toMatchObject({ input_tokens: expect.any(Number), output_tokens: expect.any(Number) });
    expect(snapshot.usage!.total_tokens).toBe(snapshot.usage!.input_tokens + snapshot.usage!.output_tokens);
  });

  it('reasoning (Anthropic messages-stream-thinking): a reasoning item with its signature, then the message', () => {
    const { events, snapshot } = sdkView(encodeUpstream('anthropic', 'messages-stream-thinking.sse'));
    expect(snapshot.output.map((o) => o.type)).toEqual(['reasoning', 'message']);
    const reasoning = snapshot.output[0]!;
    expect(reasoning.type === 'reasoning' && reasoning.encrypted_content).toBeTruthy();
    expect(reasoning.type === 'reasoning' && reasoning.content![0]!.text.length).toBeGreaterThan(0);
    expect(events.some((e) => e.type === 'response.reasoning_text.delta')).toBe(true);
  });

  it('tools (OpenAI chat-stream-tools, two parallel calls): function_call items, argument deltas and done events', () => {
    const { events, snapshot } = sdkView(encodeUpstream('openai', 'chat-stream-tools.sse'));
    const calls = snapshot.output.filter((o) => o.type === 'function_call');
    expect(calls.map((c) => c.type === 'function_call' && JSON.parse(c.arguments))).toEqual([{ location: 'Paris' }, { location: 'Bogotá' }]);
    const done = events.filter((e) => e.type === 'response.function_call_arguments.done');
    expect(done).toHaveLength(2);
    expect(events.filter((e) => e.type === 'response.function_call_arguments.delta').length).toBeGreaterThan(2);
    expect(snapshot.status).toBe('completed');
  });

  it('tools (Anthropic messages-stream-tools): text then a function call, each its own item', () => {
    const { snapshot } = sdkView(encodeUpstream('anthropic', 'messages-stream-tools.sse'));
    expect(snapshot.output.map((o) => o.type)).toEqual(['message', 'function_call']);
    expect(snapshot.output_text).toBe("Okay, let's check the weather.");
    const call = snapshot.output[1]!;
    expect(call.type === 'function_call' && JSON.parse(call.arguments)).toEqual({ location: 'San Francisco, CA' });
  });

  it('Gemini streams (stream-thinking, stream-tools) translate too', () => {
    const thinking = sdkView(encodeUpstream('gemini', 'stream-thinking.sse')).snapshot;
    expect(thinking.output.map((o) => o.type)).toEqual(['reasoning', 'message']);
    expect(thinking.output_text.length).toBeGreaterThan(0);
    const tools = sdkView(encodeUpstream('gemini', 'stream-tools.sse')).snapshot;
    expect(tools.output.filter((o) => o.type === 'function_call').map((c) => c.type === 'function_call' && JSON.parse(c.arguments))).toEqual([{ location: 'Paris' }, { location: 'Bogotá' }]);
  });

  it('an upstream error mid-stream (Anthropic overloaded) ends with response.failed, never a silent end', () => {
    const { events, snapshot } = sdkView(encodeUpstream('anthropic', 'messages-stream-error-overloaded.sse'));
    expect(events.at(-1)!.type).toBe('response.failed');
    expect(events.some((e) => e.type === 'response.completed')).toBe(false);
    expect(snapshot.status).toBe('failed');
    expect(snapshot.error).toEqual({ code: 'server_error', message: 'Overloaded' });
  });

  it('a truncated upstream stream (no finish) also ends with response.failed', () => {
    const text = fixture('anthropic', 'messages-stream-basic.sse').split('event: message_delta')[0]!;
    const wire = encode(decode(text, new AnthropicStreamDecoder()), new ResponsesStreamEncoder({ created: 1 }));
    const { snapshot } = sdkView(wire);
    expect(snapshot.status).toBe('failed');
  });

  it('an error before anything else still opens the response, then fails it', () => {
    const { events, snapshot } = sdkView(encode([{ type: 'error', error: { kind: 'rate_limit', status: 429, message: 'slow down' } }], new ResponsesStreamEncoder({ created: 1 })));
    expect(events.map((e) => e.type)).toEqual(['response.created', 'response.in_progress', 'response.failed']);
    expect(snapshot.error).toEqual({ code: 'rate_limit_exceeded', message: 'slow down' });
  });

  it('max tokens: response.incomplete with incomplete_details', () => {
    const canonical: StreamEvent[] = [
      { type: 'message_start', id: 'msg_1', model: 'm' },
      { type: 'text_delta', text: 'Once upon' },
      { type: 'finish', reason: 'length', rawReason: 'max_tokens' },
      { type: 'usage', usage: USAGE },
    ];
    const { events, snapshot } = sdkView(encode(canonical, new ResponsesStreamEncoder({ created: 1 })));
    expect(events.at(-1)!.type).toBe('response.incomplete');
    expect(snapshot.status).toBe('incomplete');
    expect(snapshot.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(snapshot.output[0]).toMatchObject({ status: 'incomplete' });
  });

  it('events come out as canonical events go in (nothing buffered to the end)', () => {
    const enc = new ResponsesStreamEncoder({ created: 1 });
    const out: Parameters<typeof enc.push>[1] = [];
    enc.push({ type: 'message_start', id: 'm1', model: 'm' }, out);
    expect(out.map((w) => w.event)).toEqual(['response.created', 'response.in_progress']);
    out.length = 0;
    enc.push({ type: 'text_delta', text: 'a' }, out);
    expect(out.map((w) => w.event)).toEqual(['response.output_item.added', 'response.content_part.added', 'response.output_text.delta']);
    out.length = 0;
    enc.push({ type: 'text_delta', text: 'b' }, out);
    expect(out).toEqual([{ event: 'response.output_text.delta', data: expect.objectContaining({ delta: 'b', sequence_number: 5 }) }]);
  });
});

describe('Responses errors', () => {
  const p = CLIENT_PROTOCOLS['openai-responses'];

  it('renders upstream errors in OpenAI’s shape with the right status', () => {
    expect(p.renderError({ kind: 'rate_limit', status: 429, message: 'slow down' })).toEqual({
      status: 429,
      body: { error: { message: 'slow down', type: 'rate_limit_error', param: null, code: null } },
    });
    expect(p.renderError({ kind: 'overloaded', status: 529, message: 'Overloaded' }).status).toBe(503);
  });

  it('renders a validation error as a 400 naming the field', () => {
    expect(p.renderValidationError(validationOf({ model: 'm', input: 'x', previous_response_id: 'resp_1' }))).toEqual({
      status: 400,
      body: { error: { message: expect.stringContaining('previous_response_id'), type: 'invalid_request_error', param: 'previous_response_id', code: 'unsupported_parameter' } },
    });
  });

  it('the stand-alone stream error event is an `error` event the SDK accepts', () => {
    const ev = p.streamErrorEvent({ kind: 'server', status: 502, message: 'upstream reset' });
    expect(ev).toEqual({ event: 'error', data: { type: 'error', code: 'server_error', message: 'upstream reset', param: null, sequence_number: 0 } });
  });

  it('is parsed as a client protocol: parseRequest, renderResponse and the encoder are wired', () => {
    const req = p.parseRequest({ model: 'm', input: 'hi', stream: true }, {});
    const res = p.renderResponse({ id: 'u', model: 'm', content: [{ type: 'text', text: 'ok' }], finishReason: 'stop', rawFinishReason: null, usage: null }, { created: 1, requestId: REQUEST_ID, request: req }) as ResponsesResponse;
    expect(res.id).toBe(RESP_ID);
    expect(p.newEncoder(req, { created: 1 })).toBeInstanceOf(ResponsesStreamEncoder);
  });
});
