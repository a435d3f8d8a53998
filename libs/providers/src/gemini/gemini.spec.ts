import { describe, expect, it } from 'vitest';
import { decode, encode, fixture, fixtureJson, fold, onTheWire } from '../../test-support/fixtures';
import { ValidationError } from '../canonical/error.types';
import { formatSse, type StreamEvent } from '../canonical/stream.types';
import { parseGeminiRequest, toGeminiRequest } from './request';
import { parseGeminiResponse, toGeminiResponse } from './response';
import { GeminiStreamDecoder, GeminiStreamEncoder } from './stream';
import { parseGeminiError, renderGeminiError, renderGeminiValidationError } from './errors';

const ctx = { model: 'gemini-2.5-flash', stream: false };

function validationOf(body: unknown, opts?: { maxImageBytes?: number }): ValidationError {
  try {
    parseGeminiRequest(body, ctx, opts);
  } catch (e) {
    if (e instanceof ValidationError) return e;
    throw e;
  }
  throw new Error('expected a ValidationError');
}

describe('Gemini request parsing', () => {
  it('reads contents, systemInstruction, functionDeclarations/calls/responses and generationConfig', () => {
    const req = parseGeminiRequest(
      {
        systemInstruction: { parts: [{ text: 'You control lights.' }] },
        contents: [
          { role: 'user', parts: [{ text: 'Dim the lights' }, { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } }] },
          { role: 'model', parts: [{ functionCall: { name: 'set_light', args: { brightness: 25 } } }] },
          { role: 'user', parts: [{ functionResponse: { name: 'set_light', response: { ok: true } } }] },
        ],
        tools: [{ functionDeclarations: [{ name: 'set_light', description: 'Sets', parameters: { type: 'OBJECT', properties: { brightness: { type: 'NUMBER' } } } }] }],
        toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['set_light'] } },
        generationConfig: {
          temperature: 0.3,
          maxOutputTokens: 200,
          stopSequences: ['x'],
          candidateCount: 1,
          responseMimeType: 'application/json',
          thinkingConfig: { thinkingBudget: 512, includeThoughts: true },
        },
      },
      { model: 'gemini-2.5-flash', stream: true },
    );
    expect(req).toEqual({
      model: 'gemini-2.5-flash',
      system: 'You control lights.',
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Dim the lights' }, { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'iVBORw0KGgo=' } }] },
        { role: 'assistant', content: [{ type: 'tool_call', id: 'call_0', name: 'set_light', arguments: '{"brightness":25}' }] },
        { role: 'tool', content: [{ type: 'tool_result', toolCallId: 'call_0', name: 'set_light', content: [{ type: 'text', text: '{"ok":true}' }] }] },
      ],
      tools: [{ name: 'set_light', description: 'Sets', parameters: { type: 'object', properties: { brightness: { type: 'number' } } } }],
      toolChoice: { type: 'tool', name: 'set_light' },
      temperature: 0.3,
      maxOutputTokens: 200,
      stop: ['x'],
      n: 1,
      responseFormat: { type: 'json_object' },
      reasoning: { budgetTokens: 512 },
      stream: true,
      includeUsage: true,
    });
  });

  it('accepts snake_case field names as the REST API does', () => {
    const req = parseGeminiRequest({ system_instruction: { parts: [{ text: 'S' }] }, contents: [{ parts: [{ text: 'hi' }] }], generation_config: { max_output_tokens: 5 } }, ctx);
    expect(req).toMatchObject({ system: 'S', maxOutputTokens: 5, messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }] });
  });

  it.each([
    ['missing contents', {}, 'contents'],
    ['contents as a string', { contents: 'hi' }, 'contents'],
    ['unknown role', { contents: [{ role: 'assistant', parts: [{ text: 'x' }] }] }, 'contents[0].role'],
    ['parts missing', { contents: [{ role: 'user' }] }, 'contents[0].parts'],
    ['an empty part', { contents: [{ parts: [{}] }] }, 'contents[0].parts[0]'],
    ['a part text that is not a string', { contents: [{ parts: [{ text: 42 }] }] }, 'contents[0].parts[0].text'],
    ['functionCall in a user turn', { contents: [{ role: 'user', parts: [{ functionCall: { name: 'f', args: {} } }] }] }, 'contents[0].parts[0].functionCall'],
    ['temperature as a string', { contents: [], generationConfig: { temperature: 'warm' } }, 'generationConfig.temperature'],
    ['a googleSearch tool', { contents: [], tools: [{ googleSearch: {} }] }, 'tools[0]'],
    ['unknown function calling mode', { contents: [], toolConfig: { functionCallingConfig: { mode: 'SOMETIMES' } } }, 'toolConfig.functionCallingConfig.mode'],
  ])('refuses %s, naming the field', (_name, body, field) => {
    const err = validationOf(body);
    expect(err.field).toBe(field);
    expect(renderGeminiValidationError(err)).toEqual({ status: 400, body: { error: { code: 400, message: expect.stringContaining(field), status: 'INVALID_ARGUMENT' } } });
  });

  it('refuses inline image data over the configured limit', () => {
    const body = { contents: [{ parts: [{ inlineData: { mimeType: 'image/png', data: 'A'.repeat(2000) } }] }] };
    expect(validationOf(body, { maxImageBytes: 1000 })).toMatchObject({ field: 'contents[0].parts[0].inlineData.data', code: 'image_too_large' });
  });
});

describe('Gemini upstream request', () => {
  it('builds contents with function calls and responses, thinking budget and JSON schema output', () => {
    const out = toGeminiRequest({
      model: 'x',
      system: 'S',
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Weather?' }] },
        { role: 'assistant', content: [{ type: 'tool_call', id: 'call_1', name: 'w', arguments: '{"c":"P"}' }] },
        { role: 'tool', content: [{ type: 'tool_result', toolCallId: 'call_1', name: 'w', content: [{ type: 'text', text: 'sunny' }] }] },
      ],
      tools: [{ name: 'w', parameters: { type: 'object', additionalProperties: false, properties: { c: { type: 'string' } } } }],
      toolChoice: { type: 'required' },
      responseFormat: { type: 'json_schema', name: 'a', schema: { type: 'object' } },
      reasoning: { effort: 'low' },
      maxOutputTokens: 100,
      stream: true,
      includeUsage: true,
    });
    expect(out).toEqual({
      contents: [
        { role: 'user', parts: [{ text: 'Weather?' }] },
        { role: 'model', parts: [{ functionCall: { name: 'w', args: { c: 'P' } } }] },
        { role: 'user', parts: [{ functionResponse: { name: 'w', response: { result: 'sunny' } } }] },
      ],
      systemInstruction: { parts: [{ text: 'S' }] },
      tools: [{ functionDeclarations: [{ name: 'w', parameters: { type: 'object', properties: { c: { type: 'string' } } } }] }],
      toolConfig: { functionCallingConfig: { mode: 'ANY' } },
      generationConfig: { maxOutputTokens: 100, responseMimeType: 'application/json', responseJsonSchema: { type: 'object' }, thinkingConfig: { thinkingBudget: 1024, includeThoughts: true } },
    });
  });

  it('turns thinking off with a zero budget', () => {
    expect(toGeminiRequest({ model: 'x', messages: [], stream: false, includeUsage: false, reasoning: { effort: 'none' } }).generationConfig).toEqual({ thinkingConfig: { thinkingBudget: 0 } });
  });
});

describe('Gemini responses', () => {
  it('generate-basic: thoughts count as output and reasoning, cached content as cached input', () => {
    expect(parseGeminiResponse(fixtureJson('gemini', 'generate-basic.json'))).toEqual({
      id: 'Ad9XaKHnL_bmz7IP4IfdsAo',
      model: 'gemini-2.5-flash',
      content: [{ type: 'text', text: 'AI learns patterns from data to make predictions.' }],
      finishReason: 'stop',
      rawFinishReason: 'STOP',
      usage: { input: 8, output: 9 + 1044, cachedInput: 4, cacheWrite: 0, reasoning: 1044 },
    });
  });

  it('generate-tools: STOP with function calls is a tool_calls finish, with generated ids', () => {
    const r = parseGeminiResponse(fixtureJson('gemini', 'generate-tools.json'));
    expect(r.finishReason).toBe('tool_calls');
    expect(r.content).toEqual([
      { type: 'tool_call', id: 'call_0', name: 'set_light_values', arguments: '{"brightness":25,"color_temp":"warm"}' },
      { type: 'tool_call', id: 'call_1', name: 'power_disco_ball', arguments: '{"power":true}' },
    ]);
    expect(toGeminiResponse(r)).toMatchObject({
      candidates: [{ content: { role: 'model', parts: [{ functionCall: { name: 'set_light_values', args: { brightness: 25, color_temp: 'warm' } } }, { functionCall: { name: 'power_disco_ball', args: { power: true } } }] }, finishReason: 'STOP' }],
      usageMetadata: { promptTokenCount: 120, candidatesTokenCount: 30, totalTokenCount: 150 },
    });
  });

  it.each([
    ['STOP', 'stop'],
    ['MAX_TOKENS', 'length'],
    ['SAFETY', 'content_filter'],
    ['RECITATION', 'content_filter'],
    ['PROHIBITED_CONTENT', 'content_filter'],
    ['MALFORMED_FUNCTION_CALL', 'error'],
    ['OTHER', 'stop'],
    ['SOMETHING_NEW', 'stop'],
  ])('finishReason %s → %s', (raw, want) => {
    expect(parseGeminiResponse({ candidates: [{ content: { parts: [{ text: 'x' }] }, finishReason: raw }] })).toMatchObject({ finishReason: want, rawFinishReason: raw });
  });

  it('a blocked prompt (no candidates) is a content_filter finish', () => {
    expect(parseGeminiResponse({ promptFeedback: { blockReason: 'SAFETY' }, usageMetadata: { promptTokenCount: 3 } })).toMatchObject({ finishReason: 'content_filter', content: [] });
  });
});

describe('Gemini stream decoding', () => {
  it.each([0, 11])('stream-basic (split every %i bytes): the last usageMetadata wins', (split) => {
    const d = new GeminiStreamDecoder();
    const events = decode(fixture('gemini', 'stream-basic.sse'), d, split);
    expect(fold(events)).toMatchObject({ text: 'The sky is blue.', finish: 'stop', errors: [] });
    expect(events[0]).toEqual({ type: 'message_start', id: 'lb1XaNW2JZ2xz7IPz6D0gA0', model: 'gemini-2.0-flash' });
    expect(d.usage).toEqual({ input: 9, output: 5, cachedInput: 0, cacheWrite: 0, reasoning: 0 });
  });

  it('stream-thinking: thought parts are thinking deltas; thoughtsTokenCount is reasoning', () => {
    const d = new GeminiStreamDecoder();
    const f = fold(decode(fixture('gemini', 'stream-thinking.sse'), d));
    expect(f).toMatchObject({ thinking: '**Calculating the sum**\n\nAdding 2 and 2.', text: '2 + 2 = 4', finish: 'stop' });
    expect(d.usage).toEqual({ input: 10, output: 85, cachedInput: 6, cacheWrite: 0, reasoning: 78 });
  });

  it('stream-tools: whole function calls become start, one delta, end', () => {
    const events = decode(fixture('gemini', 'stream-tools.sse'), new GeminiStreamDecoder());
    expect(events.filter((e) => e.type.startsWith('tool_call'))).toEqual([
      { type: 'tool_call_start', index: 0, id: 'call_0', name: 'get_weather' },
      { type: 'tool_call_delta', index: 0, argumentsDelta: '{"location":"Paris"}' },
      { type: 'tool_call_end', index: 0 },
      { type: 'tool_call_start', index: 1, id: 'call_1', name: 'get_weather' },
      { type: 'tool_call_delta', index: 1, argumentsDelta: '{"location":"Bogotá"}' },
      { type: 'tool_call_end', index: 1 },
    ]);
    expect(fold(events).finish).toBe('tool_calls');
  });

  it('a stream without a finishReason ends with a truncated error', () => {
    const text = fixture('gemini', 'stream-basic.sse').split('\n\n').slice(0, 2).join('\n\n');
    expect(decode(text, new GeminiStreamDecoder()).at(-1)).toEqual({ type: 'error', error: expect.objectContaining({ kind: 'truncated' }) });
  });

  it.each([
    ['as a data event', 'data: {"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}\n\n'],
    ['as a bare JSON line', '{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}\n'],
  ])('an error object in the stream (%s) becomes a canonical error', (_name, err) => {
    const [first] = fixture('gemini', 'stream-basic.sse').split('\n\n');
    const events = decode(first + '\n\n' + err, new GeminiStreamDecoder());
    expect(events.at(-1)).toEqual({ type: 'error', error: { kind: 'overloaded', status: 503, message: 'The model is overloaded.', providerType: 'UNAVAILABLE' } });
    expect(events.filter((e) => e.type === 'error')).toHaveLength(1);
  });

  it.each([
    ['not JSON', 'data: {"candidates":[\n\n'],
    ['a candidate without content', 'data: {"candidates":[{"index":0}]}\n\n'],
    ['a part of an unknown kind', 'data: {"candidates":[{"content":{"parts":[{"executableCode":{"code":"1"}}]}}]}\n\n'],
  ])('ignores %s', (_name, bad) => {
    const [a, b, c] = fixture('gemini', 'stream-basic.sse').split('\n\n');
    expect(fold(decode([a, bad.trimEnd(), b, c].join('\n\n') + '\n\n', new GeminiStreamDecoder()))).toMatchObject({ text: 'The sky is blue.', finish: 'stop', errors: [] });
  });
});

describe('Gemini stream encoding', () => {
  const events: StreamEvent[] = [
    { type: 'message_start', id: 'chatcmpl-9', model: 'gpt-4o' },
    { type: 'thinking_delta', text: 'hmm' },
    { type: 'text_delta', text: 'Hi' },
    { type: 'tool_call_start', index: 0, id: 'call_1', name: 'f' },
    { type: 'tool_call_delta', index: 0, argumentsDelta: '{"a":' },
    { type: 'tool_call_delta', index: 0, argumentsDelta: '1}' },
    { type: 'tool_call_end', index: 0 },
    { type: 'finish', reason: 'tool_calls', rawReason: 'tool_calls' },
    { type: 'usage', usage: { input: 7, output: 9, cachedInput: 2, cacheWrite: 0, reasoning: 3 } },
  ];

  it('writes candidate chunks, a whole function call, and a last chunk with finishReason and usageMetadata', () => {
    const wire = onTheWire(encode(events, new GeminiStreamEncoder()));
    expect(wire.every((w) => w.event === undefined)).toBe(true);
    expect(wire.map((w) => w.data)).toEqual([
      { candidates: [{ content: { role: 'model', parts: [{ text: 'hmm', thought: true }] }, index: 0 }], modelVersion: 'gpt-4o', responseId: 'chatcmpl-9' },
      { candidates: [{ content: { role: 'model', parts: [{ text: 'Hi' }] }, index: 0 }], modelVersion: 'gpt-4o', responseId: 'chatcmpl-9' },
      { candidates: [{ content: { role: 'model', parts: [{ functionCall: { id: 'call_1', name: 'f', args: { a: 1 } } }] }, index: 0 }], modelVersion: 'gpt-4o', responseId: 'chatcmpl-9' },
      {
        candidates: [{ content: { role: 'model', parts: [{ text: '' }] }, finishReason: 'STOP', index: 0 }],
        usageMetadata: { promptTokenCount: 7, candidatesTokenCount: 6, totalTokenCount: 16, cachedContentTokenCount: 2, thoughtsTokenCount: 3 },
        modelVersion: 'gpt-4o',
        responseId: 'chatcmpl-9',
      },
    ]);
  });

  it('ends a failed stream with a Gemini error object as a bare JSON line (what @google/genai recognises)', () => {
    const out = encode([events[0]!, events[2]!, { type: 'error', error: { kind: 'overloaded', status: 529, message: 'Overloaded' } }], new GeminiStreamEncoder());
    expect(out.at(-1)).toEqual({ data: { error: { code: 503, message: 'Overloaded', status: 'UNAVAILABLE' } }, raw: true });
    expect(JSON.parse(formatSse(out.at(-1)!))).toEqual({ error: { code: 503, message: 'Overloaded', status: 'UNAVAILABLE' } });
    expect(onTheWire(out).at(-1)).toEqual({ event: undefined, data: { error: { code: 503, message: 'Overloaded', status: 'UNAVAILABLE' } } });
  });
});

describe('Gemini errors', () => {
  it('error-resource-exhausted and error-overloaded', () => {
    expect(parseGeminiError(429, fixtureJson('gemini', 'error-resource-exhausted.json'))).toMatchObject({ kind: 'rate_limit', status: 429, providerType: 'RESOURCE_EXHAUSTED' });
    expect(parseGeminiError(503, fixtureJson('gemini', 'error-overloaded.json'))).toMatchObject({ kind: 'overloaded', status: 503 });
  });

  it.each([
    ['invalid_request', 400, 'INVALID_ARGUMENT'],
    ['authentication', 401, 'UNAUTHENTICATED'],
    ['permission', 403, 'PERMISSION_DENIED'],
    ['not_found', 404, 'NOT_FOUND'],
    ['rate_limit', 429, 'RESOURCE_EXHAUSTED'],
    ['server', 500, 'INTERNAL'],
    ['overloaded', 503, 'UNAVAILABLE'],
    ['timeout', 504, 'DEADLINE_EXCEEDED'],
  ] as const)('%s renders as %i %s', (kind, code, status) => {
    expect(renderGeminiError({ kind, status: 0, message: 'm' })).toEqual({ status: code, body: { error: { code, message: 'm', status } } });
  });
});
