import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import { Client } from 'pg';
import { startFakeAnthropic, startFakeGemini, startFakeOpenAI, type FakeProvider } from '@switchyard/fake-provider';
import { clickhouseQuery, startStack, type Stack } from '@switchyard/testkit';
import { until } from '../support/until';

let openaiUp: FakeProvider;
let anthropicUp: FakeProvider;
let geminiUp: FakeProvider;
let stack: Stack;
let pg: Client;

const price = { inputUsdPerMtok: '1', outputUsdPerMtok: '2' };

/** The request's books: one ClickHouse row and one ledger row, with the tokens the client saw. */
async function booked(requestId: string) {
  const row = await until('usage row', async () => {
    const out = await clickhouseQuery(
      stack.urls.clickhouseUrl,
      `SELECT channel_id, input_tokens, output_tokens FROM ${stack.urls.clickhouseDatabase}.usage_events WHERE request_id = '${requestId.replace(/[^0-9a-f-]/g, '')}' FORMAT JSONEachRow`,
    );
    const lines = out.split('\n').filter(Boolean);
    return lines.length ? lines.map((l) => JSON.parse(l) as { channel_id: string; input_tokens: number; output_tokens: number }) : undefined;
  });
  const ledger = await until('ledger row', async () => {
    const r = await pg.query('SELECT amount_nano::text AS amount FROM ledger WHERE request_id = $1', [requestId]);
    return r.rows.length ? r.rows : undefined;
  });
  expect(row).toHaveLength(1);
  expect(ledger).toHaveLength(1);
  return row[0]!;
}

beforeAll(async () => {
  openaiUp = await startFakeOpenAI({ behavior: { chunks: 4, chunkText: 'hi ' } });
  anthropicUp = await startFakeAnthropic({ behavior: { chunks: 4, chunkText: 'hi ' } });
  geminiUp = await startFakeGemini({ behavior: { chunks: 4, chunkText: 'hi ' } });
  stack = await startStack({
    channels: [
      { id: 'oai', baseUrl: openaiUp.url, models: [{ model: 'gpt-4o-mini', ...price }] },
      { id: 'anth', provider: 'anthropic', baseUrl: anthropicUp.url, models: [{ model: 'claude-sonnet', upstream: 'claude-sonnet-4-5', ...price }] },
      { id: 'gem', provider: 'gemini', baseUrl: geminiUp.url, models: [{ model: 'gemini-flash', upstream: 'gemini-2.5-flash', ...price }] },
    ],
  });
  pg = new Client({ connectionString: stack.urls.databaseUrl });
  await pg.connect();
});

afterAll(async () => {
  await pg?.end();
  await stack?.stop();
  await Promise.all([openaiUp, anthropicUp, geminiUp].map((f) => f?.close()));
});

describe('openai SDK → Anthropic and Gemini channels', () => {
  const client = () => new OpenAI({ baseURL: `${stack.ingressUrl}/v1`, apiKey: stack.apiKey, maxRetries: 0 });

  for (const model of ['claude-sonnet', 'gemini-flash']) {
    it(`${model}: answers, streams, and books the upstream's usage`, async () => {
      const { data, response } = await client().chat.completions.create({ model, messages: [{ role: 'user', content: 'say hi' }] }).withResponse();
      expect(data.choices[0]!.message.content).toBe('hi hi hi hi ');
      const row = await booked(response.headers.get('x-request-id')!);
      expect(row.output_tokens).toBe(data.usage!.completion_tokens);
      expect(row.input_tokens).toBe(data.usage!.prompt_tokens);

      const { data: stream, response: sr } = await client()
        .chat.completions.create({ model, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'stream hi' }] })
        .withResponse();
      let text = '';
      let usage: OpenAI.CompletionUsage | undefined;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta?.content ?? '';
        if (chunk.usage) usage = chunk.usage;
      }
      expect(text).toBe('hi hi hi hi ');
      const srow = await booked(sr.headers.get('x-request-id')!);
      expect(srow.output_tokens).toBe(usage!.completion_tokens);
    });
  }

  it('round-trips a tool call through an Anthropic channel', async () => {
    anthropicUp.setBehavior({ chunks: 1, chunkText: 'Let me check. ', toolCalls: [{ name: 'get_weather', arguments: { city: 'Oslo' } }] });
    try {
      const tools: OpenAI.ChatCompletionTool[] = [
        { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } },
      ];
      const first = await client().chat.completions.create({ model: 'claude-sonnet', tools, messages: [{ role: 'user', content: 'Weather in Oslo?' }] });
      const call = first.choices[0]!.message.tool_calls![0]!;
      expect(first.choices[0]!.finish_reason).toBe('tool_calls');
      expect(call.type === 'function' && call.function.name).toBe('get_weather');
      expect(call.type === 'function' && JSON.parse(call.function.arguments)).toEqual({ city: 'Oslo' });
      anthropicUp.setBehavior({ chunks: 2, chunkText: 'Sunny. ' });
      const second = await client().chat.completions.create({
        model: 'claude-sonnet',
        tools,
        messages: [{ role: 'user', content: 'Weather in Oslo?' }, first.choices[0]!.message, { role: 'tool', tool_call_id: call.id, content: '{"sky":"clear"}' }],
      });
      expect(second.choices[0]!.message.content).toBe('Sunny. Sunny. ');
      // The upstream saw the tool result as Anthropic's tool_result block.
      const last = anthropicUp.requests.at(-1)!.body as { messages: Array<{ role: string; content: Array<{ type: string; tool_use_id?: string }> }> };
      expect(last.messages.at(-1)!.content.some((b) => b.type === 'tool_result' && b.tool_use_id === call.id)).toBe(true);
    } finally {
      anthropicUp.setBehavior({ chunks: 4, chunkText: 'hi ' });
    }
  });
});

describe('Anthropic and Gemini SDKs → an OpenAI channel', () => {
  it('@anthropic-ai/sdk: messages, streamed and not, booked', async () => {
    const anthropic = new Anthropic({ baseURL: stack.ingressUrl, apiKey: stack.apiKey, maxRetries: 0 });
    const { data: msg, response } = await anthropic.messages
      .create({ model: 'gpt-4o-mini', max_tokens: 100, messages: [{ role: 'user', content: 'say hi' }] })
      .withResponse();
    expect(msg.content[0]!.type === 'text' && msg.content[0]!.text).toBe('hi hi hi hi ');
    expect(msg.usage.output_tokens).toBe(4);
    await booked(response.headers.get('x-request-id')!);

    const stream = anthropic.messages.stream({ model: 'gpt-4o-mini', max_tokens: 100, messages: [{ role: 'user', content: 'stream hi' }] });
    let text = '';
    stream.on('text', (t) => (text += t));
    const final = await stream.finalMessage();
    expect(text).toBe('hi hi hi hi ');
    expect(final.usage.output_tokens).toBe(4);
  });

  it('@google/genai: generateContent and the stream, booked', async () => {
    const genai = new GoogleGenAI({ apiKey: stack.apiKey, httpOptions: { baseUrl: stack.ingressUrl } });
    const res = await genai.models.generateContent({ model: 'gpt-4o-mini', contents: 'say hi' });
    expect(res.text).toBe('hi hi hi hi ');
    expect(res.usageMetadata?.candidatesTokenCount).toBe(4);
    let text = '';
    for await (const chunk of await genai.models.generateContentStream({ model: 'gpt-4o-mini', contents: 'stream hi' })) text += chunk.text ?? '';
    expect(text).toBe('hi hi hi hi ');
  });
});

describe('errors in the caller’s protocol', () => {
  it('Anthropic: a missing max_tokens is a 400 in Anthropic’s shape; a wrong key a 401', async () => {
    const bad = await fetch(`${stack.ingressUrl}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': stack.apiKey, 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    const anthropic = new Anthropic({ baseURL: stack.ingressUrl, apiKey: 'sk-sy-wrong', maxRetries: 0 });
    await expect(anthropic.messages.create({ model: 'gpt-4o-mini', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] })).rejects.toBeInstanceOf(
      Anthropic.AuthenticationError,
    );
  });

  it('Gemini: a wrong type is a 400 and an unknown model a 404, in Gemini’s shape', async () => {
    const bad = await fetch(`${stack.ingressUrl}/v1beta/models/gpt-4o-mini:generateContent`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-goog-api-key': stack.apiKey },
      body: JSON.stringify({ contents: 'not-an-array-of-contents-objects' }),
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 400, status: 'INVALID_ARGUMENT' } });
    const missing = await fetch(`${stack.ingressUrl}/v1beta/models/no-such-model:generateContent?key=${stack.apiKey}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'x' }] }] }),
    });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 404, status: 'NOT_FOUND' } });
  });
});
