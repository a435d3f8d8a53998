/**
 * Bad input at ingress, per client protocol: wrong field types, missing
 * required fields, unknown roles and oversized images are each a 400 in the
 * caller's own error shape, reach no upstream, and bill nothing.
 *
 * The stack's body limit (INGRESS_BODY_LIMIT_BYTES) is raised above the
 * 20 MiB image limit, so the image limit is what answers an oversized image.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
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
const IMAGE_LIMIT = 20 * 1024 * 1024;
/** base64 of 21 MiB: over the image limit, under the raised body limit. */
const BIG_IMAGE = 'A'.repeat(Math.ceil((21 * 1024 * 1024 * 4) / 3));
/** The request ids of every refused request, to check the books at the end. */
const refused: string[] = [];

const upstreamRequests = () => openaiUp.requests.length + anthropicUp.requests.length + geminiUp.requests.length;

/** POSTs a raw body; checks it was refused before any upstream saw it, and notes its request id. */
async function refusedPost(path: string, headers: Record<string, string>, body: unknown): Promise<{ status: number; json: unknown }> {
  const before = upstreamRequests();
  const res = await fetch(`${stack.ingressUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const json: unknown = await res.json();
  const requestId = res.headers.get('x-request-id');
  expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
  refused.push(requestId!);
  expect(upstreamRequests()).toBe(before);
  return { status: res.status, json };
}

beforeAll(async () => {
  openaiUp = await startFakeOpenAI({ behavior: { chunks: 2, chunkText: 'ok ' } });
  anthropicUp = await startFakeAnthropic({ behavior: { chunks: 2, chunkText: 'ok ' } });
  geminiUp = await startFakeGemini({ behavior: { chunks: 2, chunkText: 'ok ' } });
  stack = await startStack({
    env: { ingress: { INGRESS_BODY_LIMIT_BYTES: String(40 * 1024 * 1024) } },
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

type Body = Record<string, unknown>;
const user = (content: unknown): Body => ({ role: 'user', content });

// --- OpenAI Chat Completions ---------------------------------------------------

/** [case, body for `model`, the `param` named] */
const OPENAI_CASES: Array<[string, (model: string) => Body, string]> = [
  ['wrong type: messages is a string', (model) => ({ model, messages: 'hi' }), 'messages'],
  ['wrong type: model is a number', () => ({ model: 42, messages: [user('hi')] }), 'model'],
  ['wrong type: stream is a string', (model) => ({ model, stream: 'yes', messages: [user('hi')] }), 'stream'],
  ['wrong type: a message content is a number', (model) => ({ model, messages: [user(42)] }), 'messages[0].content'],
  ['wrong type: temperature is a string', (model) => ({ model, temperature: 'hot', messages: [user('hi')] }), 'temperature'],
  ['wrong type: max_tokens is a string', (model) => ({ model, max_tokens: '100', messages: [user('hi')] }), 'max_tokens'],
  ['wrong type: tools is an object', (model) => ({ model, tools: { type: 'function' }, messages: [user('hi')] }), 'tools'],
  ['missing: messages', (model) => ({ model }), 'messages'],
  ['missing: model', () => ({ messages: [user('hi')] }), 'model'],
  ['missing: a message role', (model) => ({ model, messages: [{ content: 'hi' }] }), 'messages[0].role'],
  ['unknown role', (model) => ({ model, messages: [{ role: 'wizard', content: 'hi' }] }), 'messages[0].role'],
  [
    'oversized image (data URL over 20 MiB)',
    (model) => ({ model, messages: [user([{ type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${BIG_IMAGE}` } }])] }),
    'messages[0].content[1].image_url.url',
  ],
];

describe('OpenAI /v1/chat/completions: a 400 in OpenAI’s error shape', () => {
  // The same verdict whether the model's channel speaks OpenAI (body relayed) or Anthropic (translated).
  for (const model of ['gpt-4o-mini', 'claude-sonnet']) {
    it.each(OPENAI_CASES)(`${model}: %s`, async (name, body, param) => {
      const { status, json } = await refusedPost('/v1/chat/completions', { authorization: `Bearer ${stack.apiKey}` }, body(model));
      expect(status).toBe(400);
      const error = (json as { error: { message: unknown; type: unknown; code: unknown; param: unknown } }).error;
      expect(Object.keys(error).sort()).toEqual(['code', 'message', 'param', 'type']);
      expect(error).toMatchObject({ type: 'invalid_request_error', param });
      expect(typeof error.message).toBe('string');
      if (name.startsWith('oversized')) expect(error.message).toContain(`the limit is ${IMAGE_LIMIT} bytes`);
    });
  }

  it('the openai SDK raises BadRequestError naming the field', async () => {
    const before = upstreamRequests();
    const openai = new OpenAI({ baseURL: `${stack.ingressUrl}/v1`, apiKey: stack.apiKey, maxRetries: 0 });
    const err = await openai.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'wizard' as 'user', content: 'hi' }] })
      .then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('messages[0].role');
    expect(upstreamRequests()).toBe(before);
  });
});

describe('OpenAI bodies only the translation refuses are the client’s fault, not the channel’s', () => {
  interface ChannelView {
    channel_id: string;
    model: string;
    health: { stats: { failures: number; neutral: number } | null; breaker?: { state: string } };
  }
  const anthHealth = async () => {
    const res = await fetch(`${stack.ingressUrl}/v1/switchyard/channels`, { headers: { authorization: `Bearer ${stack.apiKey}` } });
    const list = ((await res.json()) as { data: ChannelView[] }).data;
    return list.find((c) => c.channel_id === 'anth' && c.model === 'claude-sonnet')?.health;
  };

  it.each([
    ['temperature out of range', { temperature: 7, messages: [user('hi')] }, 'temperature'],
    ['a content part an Anthropic channel cannot carry', { messages: [user([{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }])] }, 'messages[0].content[0].type'],
  ])('%s: a 400 naming the field, nothing sent upstream, and the channel’s health untouched', async (_name, body, param) => {
    const failuresBefore = (await anthHealth())?.stats?.failures ?? 0;
    for (let i = 0; i < 3; i++) {
      const { status, json } = await refusedPost('/v1/chat/completions', { authorization: `Bearer ${stack.apiKey}` }, { model: 'claude-sonnet', ...body });
      expect(status).toBe(400);
      expect((json as { error: unknown }).error).toMatchObject({ type: 'invalid_request_error', param });
    }
    const after = await anthHealth();
    expect(after?.stats?.failures ?? 0).toBe(failuresBefore);
    expect(after?.breaker?.state ?? 'closed').toBe('closed');
  });
});

// --- Anthropic /v1/messages ----------------------------------------------------

const ANTHROPIC_CASES: Array<[string, Body, string]> = [
  ['wrong type: max_tokens is a string', { model: 'gpt-4o-mini', max_tokens: '100', messages: [user('hi')] }, 'max_tokens'],
  ['wrong type: messages is a string', { model: 'gpt-4o-mini', max_tokens: 10, messages: 'hi' }, 'messages'],
  ['wrong type: system is a number', { model: 'gpt-4o-mini', max_tokens: 10, system: 42, messages: [user('hi')] }, 'system'],
  ['wrong type: a content block text is a number', { model: 'gpt-4o-mini', max_tokens: 10, messages: [user([{ type: 'text', text: 42 }])] }, 'messages[0].content[0].text'],
  ['wrong type: temperature is a string', { model: 'gpt-4o-mini', max_tokens: 10, temperature: 'hot', messages: [user('hi')] }, 'temperature'],
  ['missing: max_tokens', { model: 'gpt-4o-mini', messages: [user('hi')] }, 'max_tokens'],
  ['missing: messages', { model: 'gpt-4o-mini', max_tokens: 10 }, 'messages'],
  ['missing: model', { max_tokens: 10, messages: [user('hi')] }, 'model'],
  ['unknown role', { model: 'gpt-4o-mini', max_tokens: 10, messages: [{ role: 'wizard', content: 'hi' }] }, 'messages[0].role'],
  ['a system role in messages', { model: 'gpt-4o-mini', max_tokens: 10, messages: [{ role: 'system', content: 'hi' }] }, 'messages[0].role'],
  [
    'oversized image (base64 over 20 MiB)',
    { model: 'gpt-4o-mini', max_tokens: 10, messages: [user([{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: BIG_IMAGE } }])] },
    'messages[0].content[0].source.data',
  ],
];

describe('Anthropic /v1/messages: a 400 in Anthropic’s error shape', () => {
  it.each(ANTHROPIC_CASES)('%s', async (name, body, field) => {
    const { status, json } = await refusedPost('/v1/messages', { 'x-api-key': stack.apiKey, 'anthropic-version': '2023-06-01' }, body);
    expect(status).toBe(400);
    expect(json).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: expect.any(String) } });
    const message = (json as { error: { message: string } }).error.message;
    expect(message).toContain(field);
    if (name.startsWith('oversized')) expect(message).toContain(`the limit is ${IMAGE_LIMIT} bytes`);
  });
});

// --- Gemini generateContent ----------------------------------------------------

const GEMINI_CASES: Array<[string, Body, string]> = [
  ['wrong type: contents is a string', { contents: 'hi' }, 'contents'],
  ['wrong type: parts is a string', { contents: [{ role: 'user', parts: 'hi' }] }, 'contents[0].parts'],
  ['wrong type: a part text is a number', { contents: [{ role: 'user', parts: [{ text: 42 }] }] }, 'contents[0].parts[0].text'],
  ['wrong type: generationConfig.temperature is a string', { contents: [{ role: 'user', parts: [{ text: 'hi' }] }], generationConfig: { temperature: 'hot' } }, 'generationConfig.temperature'],
  ['missing: contents', { generationConfig: { temperature: 0.5 } }, 'contents'],
  ['missing: parts', { contents: [{ role: 'user' }] }, 'contents[0].parts'],
  ['unknown role', { contents: [{ role: 'wizard', parts: [{ text: 'hi' }] }] }, 'contents[0].role'],
  [
    'oversized image (inlineData over 20 MiB)',
    { contents: [{ role: 'user', parts: [{ text: 'what is this?' }, { inlineData: { mimeType: 'image/png', data: BIG_IMAGE } }] }] },
    'contents[0].parts[1].inlineData.data',
  ],
];

describe('Gemini generateContent: a 400 in Gemini’s error shape', () => {
  for (const action of ['generateContent', 'streamGenerateContent?alt=sse']) {
    it.each(GEMINI_CASES)(`${action}: %s`, async (name, body, field) => {
      const { status, json } = await refusedPost(`/v1beta/models/gpt-4o-mini:${action}`, { 'x-goog-api-key': stack.apiKey }, body);
      expect(status).toBe(400);
      expect(json).toEqual({ error: { code: 400, message: expect.any(String), status: 'INVALID_ARGUMENT' } });
      const message = (json as { error: { message: string } }).error.message;
      expect(message).toContain(field);
      if (name.startsWith('oversized')) expect(message).toContain(`the limit is ${IMAGE_LIMIT} bytes`);
    });
  }
});

// --- the books -----------------------------------------------------------------

describe('refused requests bill nothing', () => {
  it('no ledger charge and no tokens for any refused request; a good request after them is booked', async () => {
    expect(refused.length).toBeGreaterThan(40);
    // A good request, booked: whatever the refused ones published is settled by now too.
    const { response } = await new OpenAI({ baseURL: `${stack.ingressUrl}/v1`, apiKey: stack.apiKey, maxRetries: 0 }).chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'fine' }] })
      .withResponse();
    const good = response.headers.get('x-request-id')!;
    await until('the good request’s ledger row', async () => {
      const r = await pg.query('SELECT 1 FROM ledger WHERE request_id = $1', [good]);
      return r.rows.length ? true : undefined;
    });
    const charged = await pg.query<{ request_id: string; amount: string }>('SELECT request_id, amount_nano::text AS amount FROM ledger WHERE request_id = ANY($1) AND amount_nano <> 0', [refused]);
    expect(charged.rows).toEqual([]);
    const ids = refused.map((id) => `'${id.replace(/[^0-9a-f-]/g, '')}'`).join(',');
    const billed = await clickhouseQuery(
      stack.urls.clickhouseUrl,
      `SELECT request_id, input_tokens, output_tokens, toString(cost_nano) AS cost FROM ${stack.urls.clickhouseDatabase}.usage_events WHERE request_id IN (${ids}) AND (input_tokens > 0 OR output_tokens > 0 OR cost_nano != 0) FORMAT JSONEachRow`,
    );
    expect(billed.trim()).toBe('');
  });
});
