/**
 * The OpenAI Responses API (`POST /v1/responses`) with the real `openai`
 * SDK as the client, translated through the canonical form to an Anthropic
 * channel and an OpenAI (Chat Completions) channel; books checked in
 * ClickHouse and the ledger.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { Client } from 'pg';
import { startFakeAnthropic, startFakeOpenAI, type FakeProvider } from '@switchyard/fake-provider';
import { clickhouseQuery, startStack, type Stack } from '@switchyard/testkit';
import { until } from '../support/until';

let openaiUp: FakeProvider;
let anthropicUp: FakeProvider;
let stack: Stack;
let pg: Client;

const price = { inputUsdPerMtok: '1', outputUsdPerMtok: '2' };
const DEFAULT = { chunks: 4, chunkText: 'hi ' };

interface UsageRow {
  channel_id: string;
  input_tokens: number;
  output_tokens: number;
  cached_input_tokens: number;
  reasoning_tokens: number;
  stream: number;
  http_status: number;
}

/** The request's books: one ClickHouse row and one ledger row. */
async function booked(requestId: string): Promise<UsageRow & { amount: string }> {
  const rows = await until('usage row', async () => {
    const out = await clickhouseQuery(
      stack.urls.clickhouseUrl,
      `SELECT channel_id, input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, stream, http_status FROM ${stack.urls.clickhouseDatabase}.usage_events WHERE request_id = '${requestId.replace(/[^0-9a-f-]/g, '')}' FORMAT JSONEachRow`,
    );
    const lines = out.split('\n').filter(Boolean);
    return lines.length ? lines.map((l) => JSON.parse(l) as UsageRow) : undefined;
  });
  const ledger = await until('ledger row', async () => {
    const r = await pg.query<{ amount: string }>('SELECT amount_nano::text AS amount FROM ledger WHERE request_id = $1', [requestId]);
    return r.rows.length ? r.rows : undefined;
  });
  expect(rows).toHaveLength(1);
  expect(ledger).toHaveLength(1);
  return { ...rows[0]!, amount: ledger[0]!.amount };
}

const client = () => new OpenAI({ baseURL: `${stack.ingressUrl}/v1`, apiKey: stack.apiKey, maxRetries: 0 });

const weatherTool: OpenAI.Responses.FunctionTool = {
  type: 'function',
  name: 'get_weather',
  description: 'Current weather',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
  strict: true,
};

beforeAll(async () => {
  openaiUp = await startFakeOpenAI({ behavior: DEFAULT });
  anthropicUp = await startFakeAnthropic({ behavior: DEFAULT });
  stack = await startStack({
    env: { ingress: { INGRESS_BODY_LIMIT_BYTES: String(40 * 1024 * 1024) } },
    channels: [
      {
        id: 'anth',
        provider: 'anthropic',
        baseUrl: anthropicUp.url,
        priority: 1,
        models: [
          { model: 'claude-sonnet', upstream: 'claude-sonnet-4-5', ...price },
          { model: 'shared', upstream: 'claude-sonnet-4-5', ...price },
        ],
      },
      { id: 'oai', baseUrl: openaiUp.url, priority: 2, models: [{ model: 'gpt-4o-mini', ...price }, { model: 'shared', upstream: 'gpt-4o-mini', ...price }] },
    ],
  });
  pg = new Client({ connectionString: stack.urls.databaseUrl });
  await pg.connect();
});

afterAll(async () => {
  await pg?.end();
  await stack?.stop();
  await Promise.all([openaiUp, anthropicUp].map((f) => f?.close()));
});

describe('openai SDK responses.create → Anthropic channel', () => {
  it('answers a string input with a Response object, its id the request id, and books the usage it reports', async () => {
    const { data: res, response } = await client()
      .responses.create({ model: 'claude-sonnet', instructions: 'Be brief.', input: 'say hi', max_output_tokens: 100, temperature: 0.3 })
      .withResponse();
    const requestId = response.headers.get('x-request-id')!;
    expect(res.id).toBe(`resp_${requestId.replace(/-/g, '')}`);
    expect(res.object).toBe('response');
    expect(res.status).toBe('completed');
    expect(res.output_text).toBe('hi hi hi hi ');
    expect(res.output).toHaveLength(1);
    expect(res.output[0]).toMatchObject({ type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'hi hi hi hi ' }] });
    expect(res.instructions).toBe('Be brief.');
    expect(res.temperature).toBe(0.3);
    expect(res.usage!.output_tokens).toBe(4);
    expect(res.usage!.total_tokens).toBe(res.usage!.input_tokens + res.usage!.output_tokens);
    // The upstream got Anthropic's shape: the instructions as `system`, the token limit as `max_tokens`.
    const up = anthropicUp.requests.at(-1)!.body as { system?: unknown; max_tokens: number; messages: unknown[] };
    expect(JSON.stringify(up.system)).toContain('Be brief.');
    expect(up.max_tokens).toBe(100);
    const row = await booked(requestId);
    expect(row).toMatchObject({ channel_id: 'anth', input_tokens: res.usage!.input_tokens, output_tokens: 4, stream: 0, http_status: 200 });
    expect(BigInt(row.amount)).not.toBe(0n);
  });

  it('streams the documented event sequence, numbered, ending in response.completed with usage; booked', async () => {
    const { data: stream, response } = await client().responses.create({ model: 'claude-sonnet', input: [{ role: 'user', content: 'stream hi' }], stream: true }).withResponse();
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const ev of stream) events.push(ev);
    const types = events.map((e) => e.type);
    expect(types.slice(0, 4)).toEqual(['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
    expect(types.slice(-4)).toEqual(['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed']);
    expect(types.filter((t) => t === 'response.output_text.delta')).toHaveLength(4);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    const text = events.map((e) => (e.type === 'response.output_text.delta' ? e.delta : '')).join('');
    expect(text).toBe('hi hi hi hi ');
    const done = events.at(-1) as OpenAI.Responses.ResponseCompletedEvent;
    expect(done.response.status).toBe('completed');
    expect(done.response.output[0]).toMatchObject({ type: 'message', content: [{ type: 'output_text', text: 'hi hi hi hi ' }] });
    expect(done.response.usage!.output_tokens).toBe(4);
    const row = await booked(response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ channel_id: 'anth', output_tokens: 4, input_tokens: done.response.usage!.input_tokens, stream: 1 });
  });

  it('client.responses.stream(): text events as they arrive and a finalResponse', async () => {
    const stream = client().responses.stream({ model: 'claude-sonnet', input: 'stream hi' });
    let text = '';
    stream.on('response.output_text.delta', (e) => (text += e.delta));
    const final = await stream.finalResponse();
    expect(text).toBe('hi hi hi hi ');
    expect(final.output_text).toBe('hi hi hi hi ');
    expect(final.status).toBe('completed');
    expect(final.usage!.output_tokens).toBe(4);
  });

  it('round-trips a function call: function_call → function_call_output → final text', async () => {
    anthropicUp.setBehavior({ chunks: 1, chunkText: 'Let me check. ', toolCalls: [{ name: 'get_weather', arguments: { city: 'Oslo' } }] });
    try {
      const input: OpenAI.Responses.ResponseInput = [{ role: 'user', content: 'Weather in Oslo?' }];
      const first = await client().responses.create({ model: 'claude-sonnet', tools: [weatherTool], input });
      const call = first.output.find((o): o is OpenAI.Responses.ResponseFunctionToolCall => o.type === 'function_call')!;
      expect(call).toMatchObject({ name: 'get_weather', status: 'completed' });
      expect(JSON.parse(call.arguments)).toEqual({ city: 'Oslo' });
      expect(first.output_text).toBe('Let me check. ');
      // The tool reached Anthropic in its own shape.
      const firstUp = anthropicUp.requests.at(-1)!.body as { tools: Array<{ name: string; input_schema: unknown }> };
      expect(firstUp.tools[0]).toMatchObject({ name: 'get_weather', input_schema: weatherTool.parameters });

      anthropicUp.setBehavior({ chunks: 2, chunkText: 'Sunny. ' });
      const second = await client().responses.create({
        model: 'claude-sonnet',
        tools: [weatherTool],
        input: [...input, ...(first.output as OpenAI.Responses.ResponseInputItem[]), { type: 'function_call_output', call_id: call.call_id, output: '{"sky":"clear"}' }],
      });
      expect(second.output_text).toBe('Sunny. Sunny. ');
      const last = anthropicUp.requests.at(-1)!.body as { messages: Array<{ role: string; content: Array<{ type: string; id?: string; tool_use_id?: string }> }> };
      const assistant = last.messages.at(-2)!;
      expect(assistant.role).toBe('assistant');
      expect(assistant.content.some((b) => b.type === 'tool_use' && b.id === call.call_id)).toBe(true);
      expect(last.messages.at(-1)!.content.some((b) => b.type === 'tool_result' && b.tool_use_id === call.call_id)).toBe(true);
    } finally {
      anthropicUp.setBehavior(DEFAULT);
    }
  });

  it('streams a function call as function_call_arguments deltas, done, and the item in the final response', async () => {
    anthropicUp.setBehavior({ chunks: 1, chunkText: 'Checking. ', toolCalls: [{ name: 'get_weather', arguments: { city: 'Bergen' } }] });
    try {
      const stream = client().responses.stream({ model: 'claude-sonnet', tools: [weatherTool], input: 'Weather in Bergen?' });
      const events: OpenAI.Responses.ResponseStreamEvent[] = [];
      stream.on('event', (e) => events.push(e));
      const final = await stream.finalResponse();
      const types = events.map((e) => e.type);
      expect(types).toContain('response.function_call_arguments.delta');
      const argsDone = events.find((e): e is OpenAI.Responses.ResponseFunctionCallArgumentsDoneEvent => e.type === 'response.function_call_arguments.done')!;
      expect(JSON.parse(argsDone.arguments)).toEqual({ city: 'Bergen' });
      expect(types.at(-1)).toBe('response.completed');
      expect(final.output.map((o) => o.type)).toEqual(['message', 'function_call']);
      const call = final.output[1] as OpenAI.Responses.ResponseFunctionToolCall;
      expect(JSON.parse(call.arguments)).toEqual({ city: 'Bergen' });
    } finally {
      anthropicUp.setBehavior(DEFAULT);
    }
  });

  it('returns Anthropic thinking as a reasoning item with the signature to send back', async () => {
    anthropicUp.setBehavior({ ...DEFAULT, thinkingChunks: 2 });
    try {
      const res = await client().responses.create({ model: 'claude-sonnet', input: 'think', reasoning: { effort: 'low' } });
      expect(res.output.map((o) => o.type)).toEqual(['reasoning', 'message']);
      const reasoning = res.output[0] as OpenAI.Responses.ResponseReasoningItem;
      expect(reasoning.content![0]!.text.length).toBeGreaterThan(0);
      expect(reasoning.encrypted_content).toBeTruthy();
      expect(res.output_text).toBe('hi hi hi hi ');
      const up = anthropicUp.requests.at(-1)!.body as { thinking?: { type: string } };
      expect(up.thinking?.type).toBe('enabled');
    } finally {
      anthropicUp.setBehavior(DEFAULT);
    }
  });

  it('a mid-stream upstream failure ends the stream with response.failed, and what was delivered is booked', async () => {
    anthropicUp.setBehavior({ ...DEFAULT, errorAfterChunks: 2 });
    try {
      const { data: stream, response } = await client().responses.create({ model: 'claude-sonnet', input: 'stream hi', stream: true }).withResponse();
      const events: OpenAI.Responses.ResponseStreamEvent[] = [];
      for await (const ev of stream) events.push(ev);
      const text = events.map((e) => (e.type === 'response.output_text.delta' ? e.delta : '')).join('');
      expect(text).toBe('hi hi ');
      const last = events.at(-1)!;
      expect(last.type).toBe('response.failed');
      const failed = (last as OpenAI.Responses.ResponseFailedEvent).response;
      expect(failed.status).toBe('failed');
      expect(failed.error?.message).toBeTruthy();
      expect(events.some((e) => e.type === 'response.completed')).toBe(false);
      const row = await booked(response.headers.get('x-request-id')!);
      expect(row.channel_id).toBe('anth');
      expect(row.output_tokens).toBeGreaterThan(0);
    } finally {
      anthropicUp.setBehavior(DEFAULT);
    }
  });
});

describe('openai SDK responses.create → a broken upstream connection', () => {
  it('a socket cut mid-stream also ends with response.failed, and the request is booked', async () => {
    anthropicUp.setBehavior({ ...DEFAULT, breakAfterChunks: 2 });
    try {
      const { data: stream, response } = await client().responses.create({ model: 'claude-sonnet', input: 'stream hi', stream: true }).withResponse();
      const events: OpenAI.Responses.ResponseStreamEvent[] = [];
      for await (const ev of stream) events.push(ev);
      expect(events.map((e) => (e.type === 'response.output_text.delta' ? e.delta : '')).join('')).toBe('hi hi ');
      expect(events.at(-1)!.type).toBe('response.failed');
      expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
      const row = await booked(response.headers.get('x-request-id')!);
      expect(row.channel_id).toBe('anth');
    } finally {
      anthropicUp.setBehavior(DEFAULT);
    }
  });
});

describe('openai SDK responses.create → OpenAI (Chat Completions) channel', () => {
  it('answers and streams, with cached and reasoning tokens in usage and in the books', async () => {
    openaiUp.setBehavior({ ...DEFAULT, cachedTokens: 3, reasoningTokens: 5 });
    try {
      const { data: res, response } = await client()
        .responses.create({ model: 'gpt-4o-mini', input: [{ role: 'developer', content: 'Be kind.' }, { role: 'user', content: [{ type: 'input_text', text: 'say hi' }] }], reasoning: { effort: 'high' } })
        .withResponse();
      expect(res.output_text).toBe('hi hi hi hi ');
      expect(res.usage!.input_tokens_details.cached_tokens).toBe(3);
      expect(res.usage!.output_tokens_details.reasoning_tokens).toBe(5);
      const up = openaiUp.requests.at(-1)!.body as { messages: Array<{ role: string; content: unknown }>; reasoning_effort?: string };
      expect(up.messages[0]).toEqual({ role: 'system', content: 'Be kind.' });
      expect(up.reasoning_effort).toBe('high');
      const row = await booked(response.headers.get('x-request-id')!);
      expect(row).toMatchObject({ channel_id: 'oai', cached_input_tokens: 3, reasoning_tokens: 5, output_tokens: res.usage!.output_tokens, input_tokens: res.usage!.input_tokens });

      const final = await client().responses.stream({ model: 'gpt-4o-mini', input: 'stream hi' }).finalResponse();
      expect(final.output_text).toBe('hi hi hi hi ');
      expect(final.usage!.output_tokens_details.reasoning_tokens).toBe(5);
    } finally {
      openaiUp.setBehavior(DEFAULT);
    }
  });

  it('routing applies: with fallback, a failing Anthropic channel hands the request to the OpenAI one', async () => {
    anthropicUp.setBehavior({ ...DEFAULT, failStatus: 503 });
    try {
      const { data: res, response } = await client()
        .responses.create({ model: 'shared', input: 'say hi' }, { headers: { 'x-switchyard-route': 'fallback' } })
        .withResponse();
      expect(res.output_text).toBe('hi hi hi hi ');
      const row = await booked(response.headers.get('x-request-id')!);
      expect(row.channel_id).toBe('oai');
    } finally {
      anthropicUp.setBehavior(DEFAULT);
    }
  });
});

describe('bad input gets a 400 in OpenAI’s error shape', () => {
  async function post(body: unknown): Promise<{ status: number; json: { error: { message: string; type: string; param: string | null; code: string | null } } }> {
    const res = await fetch(`${stack.ingressUrl}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.apiKey}` },
      body: JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as never };
  }

  it.each([
    ['missing input', { model: 'claude-sonnet' }, 'input'],
    ['missing model', { input: 'hi' }, 'model'],
    ['input of the wrong type', { model: 'claude-sonnet', input: 42 }, 'input'],
    ['an unknown role', { model: 'claude-sonnet', input: [{ role: 'wizard', content: 'hi' }] }, 'input[0].role'],
    ['previous_response_id (no stored state)', { model: 'claude-sonnet', input: 'hi', previous_response_id: 'resp_1' }, 'previous_response_id'],
    ['a built-in tool (web_search)', { model: 'claude-sonnet', input: 'hi', tools: [{ type: 'web_search' }] }, 'tools[0].type'],
  ])('%s', async (_name, body, param) => {
    const { status, json } = await post(body);
    expect(status).toBe(400);
    expect(json.error).toMatchObject({ type: 'invalid_request_error', param });
    expect(typeof json.error.message).toBe('string');
    expect('code' in json.error).toBe(true);
  });

  it('stored responses cannot be retrieved: GET /v1/responses/{id} is a 404 saying why', async () => {
    const err = await client()
      .responses.retrieve('resp_abc')
      .then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as InstanceType<typeof OpenAI.NotFoundError>).message).toContain('stores no responses');
  });

  it('the SDK raises BadRequestError with the message naming the field', async () => {
    const err = await client()
      .responses.create({ model: 'claude-sonnet', input: 'hi', previous_response_id: 'resp_abc' })
      .then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).message).toContain('previous_response_id');
  });

  it('an image over the 20 MiB image limit is a 400 image_too_large, the same limit as /v1/messages', async () => {
    // The stack's body limit is raised (INGRESS_BODY_LIMIT_BYTES) so the per-image limit is what answers.
    const data = 'A'.repeat(Math.ceil((21 * 1024 * 1024 * 4) / 3));
    const { status, json } = await post({
      model: 'claude-sonnet',
      input: [{ role: 'user', content: [{ type: 'input_image', image_url: `data:image/png;base64,${data}` }] }],
    });
    expect(status).toBe(400);
    expect(json.error).toMatchObject({ type: 'invalid_request_error', param: 'input[0].content[0].image_url' });
    expect(json.error.message).toContain('the limit is 20971520 bytes');
    const messages = await fetch(`${stack.ingressUrl}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': stack.apiKey, 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'claude-sonnet', max_tokens: 10, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data } }] }] }),
    });
    expect(messages.status).toBe(400);
    expect(JSON.stringify(await messages.json())).toContain('the limit is 20971520 bytes');
  });
});
