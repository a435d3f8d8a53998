/**
 * Cross-protocol round trips: a client speaking one protocol, an upstream
 * speaking another, through the canonical form — requests, responses,
 * streams (tool-call argument deltas included) and a full tool-call turn.
 * Compares parsed objects, never strings.
 */
import { describe, expect, it } from 'vitest';
import { decode, encode, fixture, fixtureJson, onTheWire } from '../test-support/fixtures';
import { parseOpenAIChatRequest, toOpenAIChatRequest } from './openai/request';
import { parseOpenAIChatResponse, toOpenAIChatResponse } from './openai/response';
import { OpenAIStreamDecoder, OpenAIStreamEncoder } from './openai/stream';
import { parseAnthropicRequest, toAnthropicRequest } from './anthropic/request';
import { parseAnthropicResponse, toAnthropicResponse } from './anthropic/response';
import { AnthropicStreamDecoder, AnthropicStreamEncoder } from './anthropic/stream';
import { parseGeminiRequest, toGeminiRequest } from './gemini/request';
import { parseGeminiResponse, toGeminiResponse } from './gemini/response';
import { GeminiStreamDecoder, GeminiStreamEncoder } from './gemini/stream';
import type { StreamDecoder, StreamEncoder } from './canonical/stream.types';

/** Pipes upstream SSE text through decoder → encoder, as the ingress will, and returns what the client parses. */
function pipe(text: string, decoder: StreamDecoder, encoder: StreamEncoder): Array<{ event: string | undefined; data: unknown }> {
  return onTheWire(encode(decode(text, decoder), encoder));
}

interface OpenAIChunkLike {
  choices: Array<{ delta: { content?: string; reasoning_content?: string; tool_calls?: Array<{ index: number; id?: string; function: { name?: string; arguments?: string } }> }; finish_reason: string | null }>;
  usage?: { prompt_tokens: number; completion_tokens: number; prompt_tokens_details: { cached_tokens: number }; completion_tokens_details: { reasoning_tokens: number } } | null;
}

/** What the `openai` SDK's stream helpers would assemble from the chunks. */
function assembleOpenAI(wire: Array<{ data: unknown }>) {
  const out = { content: '', reasoning: '', toolCalls: [] as Array<{ id: string; name: string; arguments: string }>, finish: null as string | null, usage: null as unknown, done: false };
  for (const w of wire) {
    if (w.data === '[DONE]') {
      out.done = true;
      continue;
    }
    const c = w.data as OpenAIChunkLike;
    if (c.usage) out.usage = c.usage;
    for (const ch of c.choices) {
      out.content += ch.delta.content ?? '';
      out.reasoning += ch.delta.reasoning_content ?? '';
      for (const tc of ch.delta.tool_calls ?? []) {
        const t = (out.toolCalls[tc.index] ??= { id: '', name: '', arguments: '' });
        if (tc.id) t.id = tc.id;
        if (tc.function.name) t.name = tc.function.name;
        t.arguments += tc.function.arguments ?? '';
      }
      if (ch.finish_reason) out.finish = ch.finish_reason;
    }
  }
  return out;
}

/** What `@anthropic-ai/sdk`'s MessageStream would assemble. */
function assembleAnthropic(wire: Array<{ event: string | undefined; data: unknown }>) {
  type Block = { type: string; text?: string; thinking?: string; signature?: string; id?: string; name?: string; input?: unknown; json?: string };
  let message: { content: Block[]; stop_reason: string | null; usage: Record<string, number> } | null = null;
  for (const { data } of wire) {
    const ev = data as { type: string; message?: typeof message; index?: number; content_block?: Block; delta?: Record<string, string>; usage?: Record<string, number> };
    if (ev.type === 'message_start') message = structuredClone(ev.message!);
    else if (ev.type === 'content_block_start') message!.content[ev.index!] = { ...ev.content_block!, json: '' };
    else if (ev.type === 'content_block_delta') {
      const b = message!.content[ev.index!]!;
      const d = ev.delta!;
      if (d.type === 'text_delta') b.text += d.text!;
      else if (d.type === 'thinking_delta') b.thinking += d.thinking!;
      else if (d.type === 'signature_delta') b.signature = d.signature;
      else if (d.type === 'input_json_delta') b.json += d.partial_json!;
    } else if (ev.type === 'content_block_stop') {
      const b = message!.content[ev.index!]!;
      if (b.type === 'tool_use') b.input = b.json ? JSON.parse(b.json) : {};
      delete b.json;
    } else if (ev.type === 'message_delta') {
      message!.stop_reason = ev.delta!.stop_reason!;
      message!.usage = { ...message!.usage, ...ev.usage };
    }
  }
  return message!;
}

describe('OpenAI client ↔ Anthropic upstream', () => {
  const clientRequest = {
    model: 'claude-sonnet-4',
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Weather in SF?' },
    ],
    tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] } } }],
    tool_choice: 'auto',
    parallel_tool_calls: false,
    max_completion_tokens: 300,
    stream: true,
    stream_options: { include_usage: true },
  };

  it('translates the request', () => {
    expect(toAnthropicRequest(parseOpenAIChatRequest(clientRequest), 'claude-sonnet-4-20250514')).toEqual({
      model: 'claude-sonnet-4-20250514',
      max_tokens: 300,
      system: 'Be brief.',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Weather in SF?' }] }],
      tools: [{ name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] } }],
      tool_choice: { type: 'auto', disable_parallel_tool_use: true },
      stream: true,
    });
  });

  it('streams messages-stream-tools to the client as tool-call argument deltas with exact usage', () => {
    const wire = pipe(fixture('anthropic', 'messages-stream-tools.sse'), new AnthropicStreamDecoder(), new OpenAIStreamEncoder({ created: 1, includeUsage: true }));
    const deltas = wire.flatMap((w) => (w.data === '[DONE]' ? [] : (w.data as OpenAIChunkLike).choices.flatMap((c) => c.delta.tool_calls ?? [])));
    expect(deltas.map((d) => d.function.arguments)).toEqual(['', '{"location":', ' "San Francisco, CA"}']);
    expect(assembleOpenAI(wire)).toEqual({
      content: "Okay, let's check the weather.",
      reasoning: '',
      toolCalls: [{ id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6', name: 'get_weather', arguments: '{"location": "San Francisco, CA"}' }],
      finish: 'tool_calls',
      usage: { prompt_tokens: 728, completion_tokens: 89, total_tokens: 817, prompt_tokens_details: { cached_tokens: 256 }, completion_tokens_details: { reasoning_tokens: 0 } },
      done: true,
    });
  });

  it('streams thinking as reasoning_content', () => {
    const got = assembleOpenAI(pipe(fixture('anthropic', 'messages-stream-thinking.sse'), new AnthropicStreamDecoder(), new OpenAIStreamEncoder({ created: 1, includeUsage: false })));
    expect(got).toMatchObject({ reasoning: 'I need to find the GCD of 1071 and 462.\n\n1071 = 2 × 462 + 147', content: 'The greatest common divisor of 1071 and 462 is **21**.', finish: 'stop', usage: null });
  });

  it('a mid-stream Anthropic error ends the OpenAI stream with an error event, not a silent end', () => {
    const wire = pipe(fixture('anthropic', 'messages-stream-error-overloaded.sse'), new AnthropicStreamDecoder(), new OpenAIStreamEncoder({ created: 1, includeUsage: true }));
    expect(wire.at(-1)!.data).toEqual({ error: { message: 'Overloaded', type: 'server_error', param: null, code: null } });
    expect(wire.some((w) => w.data === '[DONE]')).toBe(false);
  });

  it('completes a tool-call round trip: the response, then the follow-up turn with the result', () => {
    const res = toOpenAIChatResponse(parseAnthropicResponse(fixtureJson('anthropic', 'messages-tools.json')), { created: 5 });
    const msg = res.choices[0]!.message;
    expect(res.choices[0]!.finish_reason).toBe('tool_calls');
    expect(msg.tool_calls).toEqual([{ id: 'toolu_01A09q90qw90lq917835lq9', type: 'function', function: { name: 'get_weather', arguments: '{"location":"San Francisco, CA","unit":"celsius"}' } }]);
    const followUp = parseOpenAIChatRequest({
      ...clientRequest,
      stream: false,
      messages: [...clientRequest.messages, msg, { role: 'tool', tool_call_id: msg.tool_calls![0]!.id, content: '15°C, sunny' }],
    });
    expect(toAnthropicRequest(followUp, 'claude').messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Weather in SF?' }] },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: "I'll check the current weather in San Francisco for you." },
          { type: 'tool_use', id: 'toolu_01A09q90qw90lq917835lq9', name: 'get_weather', input: { location: 'San Francisco, CA', unit: 'celsius' } },
        ],
      },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01A09q90qw90lq917835lq9', content: [{ type: 'text', text: '15°C, sunny' }] }] },
    ]);
  });
});

describe('OpenAI client ↔ Gemini upstream', () => {
  it('translates the request with tools and reasoning', () => {
    const req = parseOpenAIChatRequest({
      model: 'gemini-2.5-flash',
      messages: [{ role: 'system', content: 'S' }, { role: 'user', content: 'Weather in Paris and Bogotá?' }],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { location: { type: 'string' } } } } }],
      reasoning_effort: 'medium',
      stop: ['\n\n'],
    });
    expect(toGeminiRequest(req)).toEqual({
      contents: [{ role: 'user', parts: [{ text: 'Weather in Paris and Bogotá?' }] }],
      systemInstruction: { parts: [{ text: 'S' }] },
      tools: [{ functionDeclarations: [{ name: 'get_weather', parameters: { type: 'object', properties: { location: { type: 'string' } } } }] }],
      generationConfig: { stopSequences: ['\n\n'], thinkingConfig: { thinkingBudget: 8192, includeThoughts: true } },
    });
  });

  it('streams stream-tools as OpenAI tool calls, and the follow-up sends functionResponses by name', () => {
    const got = assembleOpenAI(pipe(fixture('gemini', 'stream-tools.sse'), new GeminiStreamDecoder(), new OpenAIStreamEncoder({ created: 1, includeUsage: true })));
    expect(got).toMatchObject({
      toolCalls: [
        { id: 'call_0', name: 'get_weather', arguments: '{"location":"Paris"}' },
        { id: 'call_1', name: 'get_weather', arguments: '{"location":"Bogotá"}' },
      ],
      finish: 'tool_calls',
      usage: { prompt_tokens: 50, completion_tokens: 12 },
    });
    const followUp = parseOpenAIChatRequest({
      model: 'gemini-2.5-flash',
      messages: [
        { role: 'user', content: 'Weather in Paris and Bogotá?' },
        { role: 'assistant', content: null, tool_calls: got.toolCalls.map((t) => ({ id: t.id, type: 'function', function: { name: t.name, arguments: t.arguments } })) },
        { role: 'tool', tool_call_id: 'call_0', content: '{"temp":18}' },
        { role: 'tool', tool_call_id: 'call_1', content: 'rainy' },
      ],
    });
    expect(toGeminiRequest(followUp).contents).toEqual([
      { role: 'user', parts: [{ text: 'Weather in Paris and Bogotá?' }] },
      { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { location: 'Paris' } } }, { functionCall: { name: 'get_weather', args: { location: 'Bogotá' } } }] },
      { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { temp: 18 } } }, { functionResponse: { name: 'get_weather', response: { result: 'rainy' } } }] },
    ]);
  });

  it('stream-thinking: thoughts as reasoning_content, thoughts tokens as reasoning_tokens', () => {
    const got = assembleOpenAI(pipe(fixture('gemini', 'stream-thinking.sse'), new GeminiStreamDecoder(), new OpenAIStreamEncoder({ created: 1, includeUsage: true })));
    expect(got).toMatchObject({
      reasoning: '**Calculating the sum**\n\nAdding 2 and 2.',
      content: '2 + 2 = 4',
      usage: { prompt_tokens: 10, completion_tokens: 85, prompt_tokens_details: { cached_tokens: 6 }, completion_tokens_details: { reasoning_tokens: 78 } },
    });
  });

  it('a non-stream response becomes a chat.completion', () => {
    const res = toOpenAIChatResponse(parseGeminiResponse(fixtureJson('gemini', 'generate-basic.json')), { created: 1 });
    expect(res).toMatchObject({
      model: 'gemini-2.5-flash',
      choices: [{ message: { role: 'assistant', content: 'AI learns patterns from data to make predictions.' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 8, completion_tokens: 1053, total_tokens: 1061, prompt_tokens_details: { cached_tokens: 4 }, completion_tokens_details: { reasoning_tokens: 1044 } },
    });
  });
});

describe('Anthropic client ↔ OpenAI upstream', () => {
  it('translates the request: system, tools, tool_choice any, thinking budget → reasoning_effort', () => {
    const req = parseAnthropicRequest({
      model: 'gpt-4o',
      max_tokens: 20000,
      system: 'S',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }, { type: 'image', source: { type: 'url', url: 'https://x/y.png' } }] }],
      tools: [{ name: 'f', input_schema: { type: 'object' } }],
      tool_choice: { type: 'any' },
      thinking: { type: 'enabled', budget_tokens: 16000 },
      stream: true,
    });
    expect(toOpenAIChatRequest(req, 'o3')).toEqual({
      model: 'o3',
      messages: [
        { role: 'system', content: 'S' },
        { role: 'user', content: [{ type: 'text', text: 'hi' }, { type: 'image_url', image_url: { url: 'https://x/y.png' } }] },
      ],
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
      tool_choice: 'required',
      max_completion_tokens: 20000,
      reasoning_effort: 'high',
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('streams chat-stream-tools as tool_use blocks with input_json_delta, usage in message_delta', () => {
    const wire = pipe(fixture('openai', 'chat-stream-tools.sse'), new OpenAIStreamDecoder(), new AnthropicStreamEncoder());
    expect(wire[0]!.event).toBe('message_start');
    expect(wire.at(-1)!.event).toBe('message_stop');
    const msg = assembleAnthropic(wire);
    expect(msg).toEqual({
      id: 'msg_chatcmpl-7',
      type: 'message',
      role: 'assistant',
      model: 'gpt-4o-mini',
      content: [
        { type: 'tool_use', id: 'call_DdmO9pD3xa9XTPNJ32zg2hcA', name: 'get_weather', input: { location: 'Paris' } },
        { type: 'tool_use', id: 'call_Xa9XTPNJ32zg2hcADdmO9pD3', name: 'get_weather', input: { location: 'Bogotá' } },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: { input_tokens: 71, output_tokens: 40, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    });
  });

  it('reasoning_content streams as a thinking block', () => {
    const msg = assembleAnthropic(pipe(fixture('openai', 'chat-stream-reasoning.sse'), new OpenAIStreamDecoder(), new AnthropicStreamEncoder()));
    expect(msg.content).toEqual([
      { type: 'thinking', thinking: 'Two plus two', signature: '' },
      { type: 'text', text: '4' },
    ]);
    expect(msg.usage).toMatchObject({ input_tokens: 12, output_tokens: 30 });
  });

  it('completes a tool-call round trip: tool_calls response → tool_use, then tool_result → tool message', () => {
    const res = toAnthropicResponse(parseOpenAIChatResponse(fixtureJson('openai', 'chat-tools.json')));
    expect(res).toMatchObject({
      stop_reason: 'tool_use',
      content: [
        { type: 'tool_use', id: 'call_abc123', name: 'get_current_weather', input: { location: 'Boston, MA' } },
        { type: 'tool_use', id: 'call_def456', name: 'get_current_weather', input: { location: 'Paris' } },
      ],
      usage: { input_tokens: 18, cache_read_input_tokens: 64, output_tokens: 17 },
    });
    const followUp = parseAnthropicRequest({
      model: 'gpt-4o-mini',
      max_tokens: 100,
      messages: [
        { role: 'user', content: 'Weather in Boston and Paris?' },
        { role: 'assistant', content: res.content },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'call_abc123', content: '10°C' },
            { type: 'tool_result', tool_use_id: 'call_def456', content: [{ type: 'text', text: '18°C' }] },
          ],
        },
      ],
    });
    expect(toOpenAIChatRequest(followUp, 'gpt-4o-mini').messages).toEqual([
      { role: 'user', content: 'Weather in Boston and Paris?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'call_abc123', type: 'function', function: { name: 'get_current_weather', arguments: '{"location":"Boston, MA"}' } },
          { id: 'call_def456', type: 'function', function: { name: 'get_current_weather', arguments: '{"location":"Paris"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_abc123', content: '10°C' },
      { role: 'tool', tool_call_id: 'call_def456', content: '18°C' },
    ]);
  });

  it('a truncated OpenAI stream ends the Anthropic stream with an error event', () => {
    const text = fixture('openai', 'chat-stream-basic.sse').split('\n\n').slice(0, 2).join('\n\n');
    const wire = pipe(text, new OpenAIStreamDecoder(), new AnthropicStreamEncoder());
    expect(wire.at(-1)).toEqual({ event: 'error', data: { type: 'error', error: { type: 'api_error', message: expect.any(String) } } });
  });
});

describe('Gemini client ↔ OpenAI upstream', () => {
  it('translates the request: contents, functionDeclarations, thinking budget', () => {
    const req = parseGeminiRequest(
      {
        contents: [{ role: 'user', parts: [{ text: 'Lights to 25%' }] }],
        systemInstruction: { parts: [{ text: 'S' }] },
        tools: [{ functionDeclarations: [{ name: 'set_light', parameters: { type: 'OBJECT', properties: { brightness: { type: 'INTEGER' } } } }] }],
        generationConfig: { maxOutputTokens: 64, thinkingConfig: { thinkingBudget: 0 } },
      },
      { model: 'gpt-4o-mini', stream: true },
    );
    expect(toOpenAIChatRequest(req, 'gpt-4o-mini')).toEqual({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'S' },
        { role: 'user', content: 'Lights to 25%' },
      ],
      tools: [{ type: 'function', function: { name: 'set_light', parameters: { type: 'object', properties: { brightness: { type: 'integer' } } } } }],
      max_completion_tokens: 64,
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('streams chat-stream-tools as whole functionCall parts and a final chunk with usageMetadata', () => {
    const wire = pipe(fixture('openai', 'chat-stream-tools.sse'), new OpenAIStreamDecoder(), new GeminiStreamEncoder());
    type Chunk = { candidates: Array<{ content: { parts: Array<Record<string, unknown>> }; finishReason?: string }>; usageMetadata?: unknown };
    const chunks = wire.map((w) => w.data as Chunk);
    const calls = chunks.flatMap((c) => c.candidates[0]!.content.parts.filter((p) => p.functionCall).map((p) => p.functionCall));
    expect(calls).toEqual([
      { id: 'call_DdmO9pD3xa9XTPNJ32zg2hcA', name: 'get_weather', args: { location: 'Paris' } },
      { id: 'call_Xa9XTPNJ32zg2hcADdmO9pD3', name: 'get_weather', args: { location: 'Bogotá' } },
    ]);
    expect(chunks.at(-1)).toMatchObject({ candidates: [{ finishReason: 'STOP' }], usageMetadata: { promptTokenCount: 71, candidatesTokenCount: 40, totalTokenCount: 111 } });
  });

  it('completes a tool-call round trip with ids kept from the functionCall', () => {
    const res = toGeminiResponse(parseOpenAIChatResponse(fixtureJson('openai', 'chat-tools.json')));
    const parts = res.candidates[0]!.content.parts;
    expect(parts).toEqual([
      { functionCall: { id: 'call_abc123', name: 'get_current_weather', args: { location: 'Boston, MA' } } },
      { functionCall: { id: 'call_def456', name: 'get_current_weather', args: { location: 'Paris' } } },
    ]);
    const followUp = parseGeminiRequest(
      {
        contents: [
          { role: 'user', parts: [{ text: 'Weather?' }] },
          { role: 'model', parts },
          {
            role: 'user',
            parts: [
              { functionResponse: { id: 'call_abc123', name: 'get_current_weather', response: { temp: 10 } } },
              { functionResponse: { name: 'get_current_weather', response: { temp: 18 } } },
            ],
          },
        ],
      },
      { model: 'gpt-4o-mini', stream: false },
    );
    expect(toOpenAIChatRequest(followUp, 'gpt-4o-mini').messages.slice(1)).toEqual([
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'call_abc123', type: 'function', function: { name: 'get_current_weather', arguments: '{"location":"Boston, MA"}' } },
          { id: 'call_def456', type: 'function', function: { name: 'get_current_weather', arguments: '{"location":"Paris"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_abc123', content: '{"temp":10}' },
      // No id: matched to the oldest unanswered call of that name (call_abc123 was answered by id above).
      { role: 'tool', tool_call_id: 'call_def456', content: '{"temp":18}' },
    ]);
  });
});

describe('same-protocol round trips are lossless for what clients read', () => {
  it('Anthropic → canonical → Anthropic stream rebuilds the same message', () => {
    const wire = pipe(fixture('anthropic', 'messages-stream-thinking.sse'), new AnthropicStreamDecoder(), new AnthropicStreamEncoder());
    const msg = assembleAnthropic(wire);
    expect(msg).toMatchObject({
      id: 'msg_01Hx3GhDe4V7m1cJ9Q',
      content: [
        { type: 'thinking', thinking: 'I need to find the GCD of 1071 and 462.\n\n1071 = 2 × 462 + 147', signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds' },
        { type: 'text', text: 'The greatest common divisor of 1071 and 462 is **21**.' },
      ],
      stop_reason: 'end_turn',
      usage: { input_tokens: 85, output_tokens: 1274 },
    });
  });
});
