/**
 * Cross-protocol tool-call round trips with the real SDKs as clients,
 * streamed and not: the model asks for a tool, the client sends the result
 * back in its own protocol, the final answer comes. At the wire, the tool
 * result reaches the upstream in the upstream's own format; in the books,
 * each request has one ClickHouse row and one ledger row with the tokens
 * the fake upstream reported.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI, type Content, type FunctionCall, type GenerateContentResponse } from '@google/genai';
import { Client } from 'pg';
import {
  countGeminiPromptTokens,
  countPromptTokens,
  startFakeAnthropic,
  startFakeGemini,
  startFakeOpenAI,
  TOKENS_PER_MESSAGE,
  TOOL_CALL_TOKENS,
  type FakeBehavior,
  type FakeProvider,
} from '@switchyard/fake-provider';
import { clickhouseQuery, startStack, type Stack } from '@switchyard/testkit';
import { until } from '../support/until';

let openaiUp: FakeProvider;
let anthropicUp: FakeProvider;
let geminiUp: FakeProvider;
let stack: Stack;
let pg: Client;

/** 1 USD/Mtok in, 2 USD/Mtok out: 1000 and 2000 nano-USD a token. */
const price = { inputUsdPerMtok: '1', outputUsdPerMtok: '2' };
const DEFAULT: FakeBehavior = { chunks: 4, chunkText: 'hi ' };
/** The first turn: a line of text, then one call of get_weather. */
const ASKS_FOR_TOOL: FakeBehavior = { chunks: 1, chunkText: 'Let me check. ', toolCalls: [{ name: 'get_weather', arguments: { city: 'Oslo' } }] };
/** The second turn: the answer. */
const ANSWERS: FakeBehavior = { chunks: 2, chunkText: 'Sunny. ' };
const FIRST_OUTPUT = 1 + TOOL_CALL_TOKENS;
const SECOND_OUTPUT = 2;
const WEATHER_SCHEMA = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };

interface Booked {
  channel_id: string;
  stream: number;
  status: string;
  input_tokens: number;
  output_tokens: number;
}

/**
 * The request's books: exactly one ClickHouse usage row and one ledger row,
 * with `input`/`output` tokens and the channel, and the ledger amount their
 * price (1000 nano a token in, 2000 out).
 */
async function expectBooked(requestId: string | null | undefined, want: { channel: string; stream: boolean; input: number; output: number }): Promise<void> {
  expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
  const id = requestId!;
  const rows = await until('usage row', async () => {
    const out = await clickhouseQuery(
      stack.urls.clickhouseUrl,
      `SELECT channel_id, stream, status, input_tokens, output_tokens FROM ${stack.urls.clickhouseDatabase}.usage_events WHERE request_id = '${id}' FORMAT JSONEachRow`,
    );
    const lines = out.split('\n').filter(Boolean);
    return lines.length ? lines.map((l) => JSON.parse(l) as Booked) : undefined;
  });
  const ledger = await until('ledger row', async () => {
    const r = await pg.query<{ amount: string }>('SELECT amount_nano::text AS amount FROM ledger WHERE request_id = $1', [id]);
    return r.rows.length ? r.rows : undefined;
  });
  expect(rows).toEqual([{ channel_id: want.channel, stream: want.stream ? 1 : 0, status: 'ok', input_tokens: want.input, output_tokens: want.output }]);
  expect(ledger).toHaveLength(1);
  const cost = BigInt(want.input * 1000 + want.output * 2000);
  expect([cost, -cost]).toContain(BigInt(ledger[0]!.amount));
}

beforeAll(async () => {
  openaiUp = await startFakeOpenAI({ behavior: DEFAULT });
  anthropicUp = await startFakeAnthropic({ behavior: DEFAULT });
  geminiUp = await startFakeGemini({ behavior: DEFAULT });
  stack = await startStack({
    channels: [
      { id: 'oai', baseUrl: openaiUp.url, models: [{ model: 'gpt-4o-mini', ...price }] },
      { id: 'anth', provider: 'anthropic', baseUrl: anthropicUp.url, models: [{ model: 'claude-sonnet', upstream: 'claude-sonnet-4-5', ...price }] },
      { id: 'gem', provider: 'gemini', baseUrl: geminiUp.url, models: [{ model: 'gemini-flash', upstream: 'gemini-2.5-flash', ...price }] },
    ],
  });
  pg = new Client({ connectionString: stack.urls.databaseUrl });
  await pg.connect();
}, 120_000);

afterAll(async () => {
  await pg?.end();
  await stack?.stop();
  await Promise.all([openaiUp, anthropicUp, geminiUp].map((f) => f?.close()));
});

// --- openai SDK → Anthropic and Gemini channels ------------------------------

interface ChatTurn {
  requestId: string | null;
  message: OpenAI.ChatCompletionMessageParam & { role: 'assistant' };
  text: string;
  toolCalls: Array<{ id: string; name: string; arguments: string }>;
  finishReason: string | null;
  usage: OpenAI.CompletionUsage | undefined;
}

/** One chat completion, streamed (tool call deltas put together as a client does) or not. */
async function chatTurn(model: string, stream: boolean, messages: OpenAI.ChatCompletionMessageParam[], tools: OpenAI.ChatCompletionTool[]): Promise<ChatTurn> {
  const openai = new OpenAI({ baseURL: `${stack.ingressUrl}/v1`, apiKey: stack.apiKey, maxRetries: 0 });
  if (!stream) {
    const { data, response } = await openai.chat.completions.create({ model, tools, messages }).withResponse();
    const m = data.choices[0]!.message;
    const toolCalls = (m.tool_calls ?? []).map((c) => {
      if (c.type !== 'function') throw new Error(`unexpected tool call type ${c.type}`);
      return { id: c.id, name: c.function.name, arguments: c.function.arguments };
    });
    return { requestId: response.headers.get('x-request-id'), message: m, text: m.content ?? '', toolCalls, finishReason: data.choices[0]!.finish_reason, usage: data.usage };
  }
  const { data, response } = await openai.chat.completions.create({ model, tools, messages, stream: true, stream_options: { include_usage: true } }).withResponse();
  let text = '';
  let finishReason: string | null = null;
  let usage: OpenAI.CompletionUsage | undefined;
  const calls: Array<{ id: string; name: string; arguments: string }> = [];
  for await (const chunk of data) {
    if (chunk.usage) usage = chunk.usage;
    const choice = chunk.choices[0];
    if (!choice) continue;
    text += choice.delta.content ?? '';
    for (const d of choice.delta.tool_calls ?? []) {
      const c = (calls[d.index] ??= { id: '', name: '', arguments: '' });
      if (d.id) c.id = d.id;
      if (d.function?.name) c.name += d.function.name;
      if (d.function?.arguments) c.arguments += d.function.arguments;
    }
    if (choice.finish_reason) finishReason = choice.finish_reason;
  }
  const message: ChatTurn['message'] = {
    role: 'assistant',
    content: text || null,
    ...(calls.length ? { tool_calls: calls.map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: c.arguments } })) } : {}),
  };
  return { requestId: response.headers.get('x-request-id'), message, text, toolCalls: calls, finishReason, usage };
}

const chatTools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: 'get_weather', description: 'Current weather', parameters: WEATHER_SCHEMA } }];

interface AnthropicUpstreamBody {
  tools?: Array<{ name: string; input_schema: unknown }>;
  system?: unknown;
  messages: Array<{ role: string; content: Array<{ type: string; id?: string; name?: string; input?: unknown; tool_use_id?: string; content?: unknown }> }>;
}
interface GeminiUpstreamBody {
  tools?: Array<{ functionDeclarations: Array<{ name: string; parameters?: unknown }> }>;
  contents: Array<{ role: string; parts: Array<{ text?: string; functionCall?: { name: string; args: unknown; id?: string }; functionResponse?: { name: string; response: unknown; id?: string } }> }>;
  systemInstruction?: unknown;
}

/** What each non-OpenAI channel's fake saw, and the input tokens it reported for that body. */
const OPENAI_CLIENT_CHANNELS = [
  {
    model: 'claude-sonnet',
    channel: 'anth',
    up: () => anthropicUp,
    promptTokens: (body: unknown) => {
      const b = body as AnthropicUpstreamBody;
      return countPromptTokens(b.messages) + (b.system === undefined ? 0 : TOKENS_PER_MESSAGE);
    },
    sawTool(body: unknown) {
      expect((body as AnthropicUpstreamBody).tools?.[0]).toMatchObject({ name: 'get_weather', input_schema: WEATHER_SCHEMA });
    },
    sawToolResult(body: unknown, callId: string) {
      const msgs = (body as AnthropicUpstreamBody).messages;
      expect(msgs.at(-2)!.role).toBe('assistant');
      expect(msgs.at(-2)!.content).toContainEqual(expect.objectContaining({ type: 'tool_use', id: callId, name: 'get_weather', input: { city: 'Oslo' } }));
      expect(msgs.at(-1)!.role).toBe('user');
      const result = msgs.at(-1)!.content.find((b) => b.type === 'tool_result');
      expect(result).toMatchObject({ tool_use_id: callId });
      expect(JSON.stringify(result!.content)).toContain('clear');
    },
  },
  {
    model: 'gemini-flash',
    channel: 'gem',
    up: () => geminiUp,
    promptTokens: (body: unknown) => countGeminiPromptTokens(body as GeminiUpstreamBody),
    sawTool(body: unknown) {
      expect((body as GeminiUpstreamBody).tools?.[0]?.functionDeclarations[0]).toMatchObject({ name: 'get_weather' });
    },
    sawToolResult(body: unknown) {
      const contents = (body as GeminiUpstreamBody).contents;
      expect(contents.at(-2)!.role).toBe('model');
      expect(contents.at(-2)!.parts).toContainEqual(expect.objectContaining({ functionCall: expect.objectContaining({ name: 'get_weather', args: { city: 'Oslo' } }) }));
      expect(contents.at(-1)!.role).toBe('user');
      const part = contents.at(-1)!.parts.find((p) => p.functionResponse);
      expect(part?.functionResponse).toMatchObject({ name: 'get_weather', response: { sky: 'clear' } });
    },
  },
] as const;

describe('openai SDK → Anthropic and Gemini channels: a tool call round trip', () => {
  for (const ch of OPENAI_CLIENT_CHANNELS) {
    for (const stream of [false, true]) {
      it(`${ch.model}, ${stream ? 'streamed' : 'not streamed'}: tool_calls → role "tool" → the answer; both turns booked`, async () => {
        const up = ch.up();
        up.setBehavior(ASKS_FOR_TOOL);
        try {
          const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Oslo?' }];
          const first = await chatTurn(ch.model, stream, messages, chatTools);
          expect(first.finishReason).toBe('tool_calls');
          expect(first.text).toBe('Let me check. ');
          expect(first.toolCalls).toHaveLength(1);
          const call = first.toolCalls[0]!;
          expect(call.name).toBe('get_weather');
          expect(JSON.parse(call.arguments)).toEqual({ city: 'Oslo' });
          expect(call.id).toBeTruthy();
          const firstUp = up.requests.at(-1)!.body;
          ch.sawTool(firstUp);
          const firstInput = ch.promptTokens(firstUp);
          expect(first.usage).toMatchObject({ prompt_tokens: firstInput, completion_tokens: FIRST_OUTPUT });
          await expectBooked(first.requestId, { channel: ch.channel, stream, input: firstInput, output: FIRST_OUTPUT });

          up.setBehavior(ANSWERS);
          const second = await chatTurn(ch.model, stream, [...messages, first.message, { role: 'tool', tool_call_id: call.id, content: '{"sky":"clear"}' }], chatTools);
          expect(second.finishReason).toBe('stop');
          expect(second.text).toBe('Sunny. Sunny. ');
          const secondUp = up.requests.at(-1)!.body;
          ch.sawToolResult(secondUp, call.id);
          const secondInput = ch.promptTokens(secondUp);
          expect(second.usage).toMatchObject({ prompt_tokens: secondInput, completion_tokens: SECOND_OUTPUT });
          await expectBooked(second.requestId, { channel: ch.channel, stream, input: secondInput, output: SECOND_OUTPUT });
        } finally {
          up.setBehavior(DEFAULT);
        }
      });
    }
  }
});

// --- @anthropic-ai/sdk → OpenAI channel ----------------------------------------

interface OpenAIUpstreamBody {
  tools?: Array<{ type: string; function: { name: string; parameters?: unknown } }>;
  messages: Array<{ role: string; content?: unknown; tool_calls?: Array<{ id: string; type: string; function: { name: string; arguments: string } }>; tool_call_id?: string }>;
}

function openaiSawToolResult(body: unknown): void {
  const msgs = (body as OpenAIUpstreamBody).messages;
  const assistant = msgs.at(-2)!;
  expect(assistant.role).toBe('assistant');
  expect(assistant.tool_calls).toHaveLength(1);
  const call = assistant.tool_calls![0]!;
  expect(call).toMatchObject({ type: 'function', function: { name: 'get_weather' } });
  expect(JSON.parse(call.function.arguments)).toEqual({ city: 'Oslo' });
  const tool = msgs.at(-1)!;
  expect(tool).toMatchObject({ role: 'tool', tool_call_id: call.id });
  expect(JSON.stringify(tool.content)).toContain('clear');
}

describe('@anthropic-ai/sdk → OpenAI channel: tool_use → tool_result', () => {
  const anthropic = () => new Anthropic({ baseURL: stack.ingressUrl, apiKey: stack.apiKey, maxRetries: 0 });
  const tools: Anthropic.Tool[] = [{ name: 'get_weather', description: 'Current weather', input_schema: WEATHER_SCHEMA as Anthropic.Tool.InputSchema }];

  async function turn(stream: boolean, messages: Anthropic.MessageParam[]): Promise<{ msg: Anthropic.Message; requestId: string | null; textDeltas: string; jsonDeltas: number }> {
    const params = { model: 'gpt-4o-mini', max_tokens: 200, tools, messages };
    if (!stream) {
      const { data, response } = await anthropic().messages.create(params).withResponse();
      return { msg: data, requestId: response.headers.get('x-request-id'), textDeltas: '', jsonDeltas: 0 };
    }
    const s = anthropic().messages.stream(params);
    let textDeltas = '';
    let jsonDeltas = 0;
    s.on('text', (t) => (textDeltas += t));
    s.on('inputJson', () => jsonDeltas++);
    const { response } = await s.withResponse();
    const msg = await s.finalMessage();
    return { msg, requestId: response.headers.get('x-request-id'), textDeltas, jsonDeltas };
  }

  for (const stream of [false, true]) {
    it(`${stream ? 'streamed' : 'not streamed'}: the upstream gets tool_calls and a role "tool" message; both turns booked`, async () => {
      openaiUp.setBehavior(ASKS_FOR_TOOL);
      try {
        const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'Weather in Oslo?' }];
        const first = await turn(stream, messages);
        expect(first.msg.stop_reason).toBe('tool_use');
        expect(first.msg.content.map((b) => b.type)).toEqual(['text', 'tool_use']);
        expect(first.msg.content[0]).toMatchObject({ type: 'text', text: 'Let me check. ' });
        const use = first.msg.content[1] as Anthropic.ToolUseBlock;
        expect(use).toMatchObject({ name: 'get_weather', input: { city: 'Oslo' } });
        expect(use.id).toBeTruthy();
        if (stream) {
          expect(first.textDeltas).toBe('Let me check. ');
          expect(first.jsonDeltas).toBeGreaterThan(0);
        }
        const firstUp = openaiUp.requests.at(-1)!.body as OpenAIUpstreamBody;
        expect(firstUp.tools).toEqual([{ type: 'function', function: expect.objectContaining({ name: 'get_weather', parameters: WEATHER_SCHEMA }) }]);
        const firstInput = countPromptTokens(firstUp.messages);
        expect(first.msg.usage).toMatchObject({ input_tokens: firstInput, output_tokens: FIRST_OUTPUT });
        await expectBooked(first.requestId, { channel: 'oai', stream, input: firstInput, output: FIRST_OUTPUT });

        openaiUp.setBehavior(ANSWERS);
        const second = await turn(stream, [
          ...messages,
          { role: 'assistant', content: first.msg.content },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '{"sky":"clear"}' }] },
        ]);
        expect(second.msg.stop_reason).toBe('end_turn');
        expect(second.msg.content).toEqual([expect.objectContaining({ type: 'text', text: 'Sunny. Sunny. ' })]);
        const secondUp = openaiUp.requests.at(-1)!.body as OpenAIUpstreamBody;
        openaiSawToolResult(secondUp);
        // The id the client got is the id the upstream gets back.
        expect(secondUp.messages.at(-1)!.tool_call_id).toBe(use.id);
        const secondInput = countPromptTokens(secondUp.messages);
        expect(second.msg.usage).toMatchObject({ input_tokens: secondInput, output_tokens: SECOND_OUTPUT });
        await expectBooked(second.requestId, { channel: 'oai', stream, input: secondInput, output: SECOND_OUTPUT });
      } finally {
        openaiUp.setBehavior(DEFAULT);
      }
    });
  }

  it('streamed, two tool_use blocks: two tool_result blocks go back as two role "tool" messages with their ids', async () => {
    openaiUp.setBehavior({
      chunks: 1,
      chunkText: 'Checking both. ',
      toolCalls: [
        { name: 'get_weather', arguments: { city: 'Oslo' } },
        { name: 'get_weather', arguments: { city: 'Bergen' } },
      ],
    });
    try {
      const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'Weather in Oslo and Bergen?' }];
      const first = await turn(true, messages);
      expect(first.msg.stop_reason).toBe('tool_use');
      const uses = first.msg.content.filter((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use');
      expect(uses.map((u) => u.input)).toEqual([{ city: 'Oslo' }, { city: 'Bergen' }]);
      expect(new Set(uses.map((u) => u.id)).size).toBe(2);
      const firstUp = openaiUp.requests.at(-1)!.body as OpenAIUpstreamBody;
      await expectBooked(first.requestId, { channel: 'oai', stream: true, input: countPromptTokens(firstUp.messages), output: 1 + 2 * TOOL_CALL_TOKENS });

      openaiUp.setBehavior(ANSWERS);
      await turn(true, [
        ...messages,
        { role: 'assistant', content: first.msg.content },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: uses[0]!.id, content: '{"sky":"clear"}' },
            { type: 'tool_result', tool_use_id: uses[1]!.id, content: '{"sky":"rain"}' },
          ],
        },
      ]);
      const msgs = (openaiUp.requests.at(-1)!.body as OpenAIUpstreamBody).messages;
      expect(msgs.at(-3)!.tool_calls!.map((c) => c.id)).toEqual(uses.map((u) => u.id));
      expect(msgs.slice(-2).map((m) => [m.role, m.tool_call_id, JSON.stringify(m.content)])).toEqual([
        ['tool', uses[0]!.id, expect.stringContaining('clear')],
        ['tool', uses[1]!.id, expect.stringContaining('rain')],
      ]);
    } finally {
      openaiUp.setBehavior(DEFAULT);
    }
  });

  it('streamed without tools: text deltas and usage, booked', async () => {
    const s = anthropic().messages.stream({ model: 'gpt-4o-mini', max_tokens: 100, messages: [{ role: 'user', content: 'stream hi' }] });
    let text = '';
    s.on('text', (t) => (text += t));
    const { response } = await s.withResponse();
    const final = await s.finalMessage();
    expect(text).toBe('hi hi hi hi ');
    const input = countPromptTokens((openaiUp.requests.at(-1)!.body as OpenAIUpstreamBody).messages);
    expect(final.usage).toMatchObject({ input_tokens: input, output_tokens: 4 });
    await expectBooked(response.headers.get('x-request-id'), { channel: 'oai', stream: true, input, output: 4 });
  });
});

// --- @google/genai → OpenAI channel --------------------------------------------

/** The text parts of a Gemini content (`response.text` warns when there are function calls too). */
function textOf(content: Content | undefined): string {
  return (content?.parts ?? []).map((p) => (p.thought ? '' : (p.text ?? ''))).join('');
}

describe('@google/genai → OpenAI channel: functionCall → functionResponse', () => {
  const genai = () => new GoogleGenAI({ apiKey: stack.apiKey, httpOptions: { baseUrl: stack.ingressUrl } });
  const config = { tools: [{ functionDeclarations: [{ name: 'get_weather', description: 'Current weather', parametersJsonSchema: WEATHER_SCHEMA }] }] };

  interface GenTurn {
    requestId: string | undefined;
    text: string;
    calls: FunctionCall[];
    content: Content;
    usage: GenerateContentResponse['usageMetadata'];
  }

  async function turn(stream: boolean, contents: Content[]): Promise<GenTurn> {
    if (!stream) {
      const res = await genai().models.generateContent({ model: 'gpt-4o-mini', contents, config });
      const content = res.candidates![0]!.content!;
      return { requestId: res.sdkHttpResponse?.headers?.['x-request-id'], text: textOf(content), calls: res.functionCalls ?? [], content, usage: res.usageMetadata };
    }
    let text = '';
    const calls: FunctionCall[] = [];
    const parts: NonNullable<Content['parts']> = [];
    let usage: GenerateContentResponse['usageMetadata'];
    let requestId: string | undefined;
    for await (const chunk of await genai().models.generateContentStream({ model: 'gpt-4o-mini', contents, config })) {
      requestId ??= chunk.sdkHttpResponse?.headers?.['x-request-id'];
      text += textOf(chunk.candidates?.[0]?.content);
      calls.push(...(chunk.functionCalls ?? []));
      parts.push(...(chunk.candidates?.[0]?.content?.parts ?? []));
      if (chunk.usageMetadata?.candidatesTokenCount !== undefined) usage = chunk.usageMetadata;
    }
    // The model turn as a client keeps it: its text merged, then its calls.
    const merged: NonNullable<Content['parts']> = [];
    if (text) merged.push({ text });
    for (const p of parts) if (p.functionCall) merged.push(p);
    return { requestId, text, calls, content: { role: 'model', parts: merged }, usage };
  }

  // Not streamed, the client echoes the call's id in its functionResponse; streamed, it leaves
  // the id out (as Gemini clients may) and the result is matched to the call by name.
  for (const stream of [false, true]) {
    it(`${stream ? 'streamed, functionResponse without id' : 'not streamed, functionResponse with id'}: the upstream gets tool_calls and a role "tool" message; both turns booked`, async () => {
      openaiUp.setBehavior(ASKS_FOR_TOOL);
      try {
        const contents: Content[] = [{ role: 'user', parts: [{ text: 'Weather in Oslo?' }] }];
        const first = await turn(stream, contents);
        expect(first.text).toBe('Let me check. ');
        expect(first.calls).toHaveLength(1);
        expect(first.calls[0]).toMatchObject({ name: 'get_weather', args: { city: 'Oslo' } });
        const firstUp = openaiUp.requests.at(-1)!.body as OpenAIUpstreamBody;
        expect(firstUp.tools).toEqual([{ type: 'function', function: expect.objectContaining({ name: 'get_weather', parameters: WEATHER_SCHEMA }) }]);
        const firstInput = countPromptTokens(firstUp.messages);
        expect(first.usage).toMatchObject({ promptTokenCount: firstInput, candidatesTokenCount: FIRST_OUTPUT });
        await expectBooked(first.requestId, { channel: 'oai', stream, input: firstInput, output: FIRST_OUTPUT });

        openaiUp.setBehavior(ANSWERS);
        const call = first.calls[0]!;
        expect(call.id).toBeTruthy();
        const second = await turn(stream, [
          ...contents,
          first.content,
          { role: 'user', parts: [{ functionResponse: { ...(stream ? {} : { id: call.id }), name: 'get_weather', response: { sky: 'clear' } } }] },
        ]);
        expect(second.text).toBe('Sunny. Sunny. ');
        expect(second.calls).toEqual([]);
        const secondUp = openaiUp.requests.at(-1)!.body as OpenAIUpstreamBody;
        openaiSawToolResult(secondUp);
        expect(secondUp.messages.at(-1)!.tool_call_id).toBe(call.id);
        const secondInput = countPromptTokens(secondUp.messages);
        expect(second.usage).toMatchObject({ promptTokenCount: secondInput, candidatesTokenCount: SECOND_OUTPUT });
        await expectBooked(second.requestId, { channel: 'oai', stream, input: secondInput, output: SECOND_OUTPUT });
      } finally {
        openaiUp.setBehavior(DEFAULT);
      }
    });
  }

  it('streamed, two calls of one function answered without ids: each result goes back under its own call id, in order', async () => {
    openaiUp.setBehavior({
      chunks: 1,
      chunkText: 'Checking both. ',
      toolCalls: [
        { name: 'get_weather', arguments: { city: 'Oslo' } },
        { name: 'get_weather', arguments: { city: 'Bergen' } },
      ],
    });
    try {
      const contents: Content[] = [{ role: 'user', parts: [{ text: 'Weather in Oslo and Bergen?' }] }];
      const first = await turn(true, contents);
      expect(first.calls.map((c) => c.args)).toEqual([{ city: 'Oslo' }, { city: 'Bergen' }]);
      const firstUp = openaiUp.requests.at(-1)!.body as OpenAIUpstreamBody;
      await expectBooked(first.requestId, { channel: 'oai', stream: true, input: countPromptTokens(firstUp.messages), output: 1 + 2 * TOOL_CALL_TOKENS });

      openaiUp.setBehavior(ANSWERS);
      const second = await turn(true, [
        ...contents,
        first.content,
        { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { sky: 'clear' } } }, { functionResponse: { name: 'get_weather', response: { sky: 'rain' } } }] },
      ]);
      expect(second.text).toBe('Sunny. Sunny. ');
      const msgs = (openaiUp.requests.at(-1)!.body as OpenAIUpstreamBody).messages;
      const calls = msgs.at(-3)!.tool_calls!;
      expect(calls.map((c) => JSON.parse(c.function.arguments) as unknown)).toEqual([{ city: 'Oslo' }, { city: 'Bergen' }]);
      expect(calls.map((c) => c.id)).toEqual(first.calls.map((c) => c.id));
      expect(new Set(calls.map((c) => c.id)).size).toBe(2);
      expect(msgs.slice(-2).map((m) => [m.role, m.tool_call_id, JSON.parse(m.content as string) as unknown])).toEqual([
        ['tool', calls[0]!.id, { sky: 'clear' }],
        ['tool', calls[1]!.id, { sky: 'rain' }],
      ]);
    } finally {
      openaiUp.setBehavior(DEFAULT);
    }
  });

  it('streamed without tools: the text and usage, booked', async () => {
    let text = '';
    let usage: GenerateContentResponse['usageMetadata'];
    let requestId: string | undefined;
    for await (const chunk of await genai().models.generateContentStream({ model: 'gpt-4o-mini', contents: 'stream hi' })) {
      requestId ??= chunk.sdkHttpResponse?.headers?.['x-request-id'];
      text += chunk.text ?? '';
      if (chunk.usageMetadata?.candidatesTokenCount !== undefined) usage = chunk.usageMetadata;
    }
    expect(text).toBe('hi hi hi hi ');
    const input = countPromptTokens((openaiUp.requests.at(-1)!.body as OpenAIUpstreamBody).messages);
    expect(usage).toMatchObject({ promptTokenCount: input, candidatesTokenCount: 4 });
    await expectBooked(requestId, { channel: 'oai', stream: true, input, output: 4 });
  });
});
