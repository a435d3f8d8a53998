import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { Client } from 'pg';
import { startFakeAnthropic, startFakeGemini, startFakeOpenAI, type FakeProvider } from '@switchyard/fake-provider';
import { clickhouseQuery, startStack, type Stack } from '@switchyard/testkit';
import { until } from '../support/until';

/**
 * Per-key routing control (allowed channels, price ceilings) and opt-in
 * mid-stream failover, end to end: real services, real NATS/Postgres/
 * ClickHouse, fake upstreams at the wire, the `openai` SDK as the client.
 */
let alpha: FakeProvider;
let beta: FakeProvider;
let pricey: FakeProvider;
let anthA: FakeProvider;
let anthB: FakeProvider;
let gemA: FakeProvider;
let gemB: FakeProvider;
let stack: Stack;
let pg: Client;

const CONTINUE_PROMPT = 'Continue your previous message exactly where it stopped. Do not repeat any of it and do not add any preamble.';
// nano-USD per 1M tokens, for the expected ledger amounts.
const PRICES = { alpha: { input: 1_000_000_000n, output: 2_000_000_000n }, beta: { input: 3_000_000_000n, output: 6_000_000_000n } } as const;

async function createKey(name: string, flags: string[]): Promise<string> {
  return (JSON.parse(await stack.admin(['create-key', '--account', stack.accountId, '--name', name, ...flags, '--json'])) as { key: string }).key;
}

function client(apiKey: string, headers: Record<string, string> = {}) {
  return new OpenAI({ baseURL: `${stack.ingressUrl}/v1`, apiKey, maxRetries: 0, defaultHeaders: headers });
}

interface Row {
  status: string;
  channel_id: string;
  error_class: string | null;
  input_tokens: number;
  output_tokens: number;
  cost_nano: string;
  attempts: string;
}

async function usageRow(requestId: string): Promise<Row> {
  return until('usage row', async () => {
    const out = await clickhouseQuery(
      stack.urls.clickhouseUrl,
      `SELECT status, channel_id, error_class, input_tokens, output_tokens, toString(cost_nano) AS cost_nano, attempts FROM ${stack.urls.clickhouseDatabase}.usage_events WHERE request_id = '${requestId.replace(/[^0-9a-f-]/g, '')}' FORMAT JSONEachRow`,
    );
    const line = out.split('\n').find(Boolean);
    return line ? (JSON.parse(line) as Row) : undefined;
  });
}

async function ledgerAmount(requestId: string): Promise<bigint> {
  return until('ledger row', async () => {
    const r = await pg.query<{ amount: string }>('SELECT amount_nano::text AS amount FROM ledger WHERE request_id = $1', [requestId]);
    return r.rows[0] ? BigInt(r.rows[0].amount) : undefined;
  });
}

/** A stream read through the SDK: text, ids, role chunks, usage chunks, and the error it threw (if any). */
async function readStream(stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>) {
  let text = '';
  const ids = new Set<string>();
  let roles = 0;
  const usages: OpenAI.CompletionUsage[] = [];
  let error: unknown = null;
  try {
    for await (const chunk of stream) {
      ids.add(chunk.id);
      const d = chunk.choices[0]?.delta;
      if (d?.role) roles++;
      text += d?.content ?? '';
      if (chunk.usage) usages.push(chunk.usage);
    }
  } catch (e) {
    error = e;
  }
  return { text, ids, roles, usages, error };
}

const mtokCost = (tokens: number, perMtok: bigint) => BigInt(tokens) * perMtok;
const roundedCost = (u: { input_tokens: number; output_tokens: number }, p: { input: bigint; output: bigint }) =>
  (mtokCost(u.input_tokens, p.input) + mtokCost(u.output_tokens, p.output) + 500_000n) / 1_000_000n;

beforeAll(async () => {
  alpha = await startFakeOpenAI({ behavior: { chunks: 4, chunkText: 'alpha ' } });
  beta = await startFakeOpenAI({ behavior: { chunks: 4, chunkText: 'beta ' } });
  pricey = await startFakeOpenAI({ behavior: { chunks: 2, chunkText: 'pricey ' } });
  anthA = await startFakeAnthropic({ behavior: { chunks: 4, chunkText: 'first ' } });
  anthB = await startFakeAnthropic({ behavior: { chunks: 3, chunkText: 'second ' } });
  gemA = await startFakeGemini({ behavior: { chunks: 4, chunkText: 'uno ' } });
  gemB = await startFakeGemini({ behavior: { chunks: 2, chunkText: 'dos ' } });
  stack = await startStack({
    channels: [
      // alpha: first by priority and the cheapest, so it also scores best.
      {
        id: 'alpha',
        baseUrl: alpha.url,
        priority: 1,
        models: [
          { model: 'chat', inputUsdPerMtok: '1', outputUsdPerMtok: '2' },
          { model: 'story', inputUsdPerMtok: '1', outputUsdPerMtok: '2' },
          { model: 'tools', inputUsdPerMtok: '1', outputUsdPerMtok: '2' },
        ],
      },
      {
        id: 'beta',
        baseUrl: beta.url,
        priority: 2,
        models: [
          { model: 'chat', inputUsdPerMtok: '3', outputUsdPerMtok: '6' },
          { model: 'story', inputUsdPerMtok: '3', outputUsdPerMtok: '6' },
          { model: 'tools', inputUsdPerMtok: '3', outputUsdPerMtok: '6' },
          { model: 'premium', inputUsdPerMtok: '3', outputUsdPerMtok: '6' },
        ],
      },
      { id: 'pricey', baseUrl: pricey.url, priority: 1, models: [{ model: 'premium', inputUsdPerMtok: '50', outputUsdPerMtok: '100' }] },
      { id: 'anth-a', provider: 'anthropic', baseUrl: anthA.url, priority: 1, models: [{ model: 'claude', upstream: 'claude-sonnet-4-5', inputUsdPerMtok: '1', outputUsdPerMtok: '2' }] },
      { id: 'gem-a', provider: 'gemini', baseUrl: gemA.url, priority: 1, models: [{ model: 'gem', upstream: 'gemini-2.5-flash', inputUsdPerMtok: '1', outputUsdPerMtok: '2' }] },
      { id: 'gem-b', provider: 'gemini', baseUrl: gemB.url, priority: 2, models: [{ model: 'gem', upstream: 'gemini-2.5-flash', inputUsdPerMtok: '3', outputUsdPerMtok: '6' }] },
      { id: 'anth-b', provider: 'anthropic', baseUrl: anthB.url, priority: 2, models: [{ model: 'claude', upstream: 'claude-sonnet-4-5', inputUsdPerMtok: '3', outputUsdPerMtok: '6' }] },
    ],
  });
  pg = new Client({ connectionString: stack.urls.databaseUrl });
  await pg.connect();
});

afterAll(async () => {
  await pg?.end();
  await stack?.stop();
  await Promise.all([alpha, beta, pricey, anthA, anthB, gemA, gemB].map((f) => f?.close()));
});

beforeEach(() => {
  for (const f of [alpha, beta, pricey, anthA, anthB, gemA, gemB]) f.reset();
});

describe('per-key routing control', () => {
  it('a key restricted to channel beta never reaches alpha, though alpha is first, cheapest and best scored', async () => {
    const key = await createKey('beta-only', ['--route-channels', 'beta']);
    for (const route of ['smart', 'fallback', 'race']) {
      const { data } = await client(key, { 'x-switchyard-route': route })
        .chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] })
        .withResponse();
      expect(data.choices[0]!.message.content).toBe('beta '.repeat(4));
    }
    expect(alpha.stats().received).toBe(0);
    expect(beta.stats().received).toBe(3);
    // The same model through the default key does go to alpha: the restriction is what kept it away.
    const open = await client(stack.apiKey, { 'x-switchyard-route': 'fallback' }).chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
    expect(open.choices[0]!.message.content).toBe('alpha '.repeat(4));
  });

  it('a request naming a channel its key does not allow gets 400 invalid_route, and no upstream is called', async () => {
    const key = await createKey('beta-only-2', ['--route-channels', 'beta']);
    const err = await client(key)
      .chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], route: { allowed_channels: ['alpha'] } } as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    const apiErr = err as InstanceType<typeof OpenAI.APIError>;
    expect(apiErr.status).toBe(400);
    expect(apiErr.code).toBe('invalid_route');
    expect(apiErr.message).toContain('not allowed for this API key: alpha');
    expect(alpha.stats().received + beta.stats().received).toBe(0);
  });

  it("a key's max price excludes the expensive channel, and a request cannot raise it", async () => {
    const key = await createKey('capped', ['--route-max-output-usd-per-mtok', '10']);
    const viaPricey = await client(stack.apiKey, { 'x-switchyard-route': 'fallback' }).chat.completions.create({ model: 'premium', messages: [{ role: 'user', content: 'hi' }] });
    expect(viaPricey.choices[0]!.message.content).toBe('pricey '.repeat(2));
    for (let i = 0; i < 3; i++) {
      const r = await client(key, { 'x-switchyard-route': 'fallback;max_price=1000' }).chat.completions.create({ model: 'premium', messages: [{ role: 'user', content: 'hi' }] });
      expect(r.choices[0]!.message.content).toBe('beta '.repeat(4));
    }
    expect(pricey.stats().received).toBe(1);
  });

  it('refuses an unknown channel in a key setting and writes nothing', async () => {
    const key = JSON.parse(await stack.admin(['create-key', '--account', stack.accountId, '--name', 'typo', '--json'])) as { id: string };
    await expect(stack.admin(['update-key', '--id', key.id, '--route-channels', 'beta,betta', '--route-max-input-usd-per-mtok', '1'])).rejects.toThrow(/unknown channel: betta/);
    const row = await pg.query('SELECT route_allowed_channels, route_max_input_nano_per_mtok FROM api_keys WHERE id = $1', [key.id]);
    expect(row.rows[0]).toEqual({ route_allowed_channels: null, route_max_input_nano_per_mtok: null });
  });
});

describe('mid-stream failover', () => {
  it('continues a broken stream on the next channel: one stream, one id, one role chunk, one usage chunk, each attempt billed at its own price', async () => {
    alpha.setBehavior({ chunks: 6, chunkText: 'alpha ', breakAfterChunks: 3 });
    const { data: stream, response } = await client(stack.apiKey, { 'x-switchyard-route': 'fallback', 'x-switchyard-midstream-failover': '1' })
      .chat.completions.create({ model: 'chat', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'tell me a story' }] })
      .withResponse();
    const got = await readStream(stream);
    expect(got.error).toBeNull();
    expect(got.text).toBe('alpha '.repeat(3) + 'beta '.repeat(4));
    expect(got.ids.size).toBe(1);
    expect(got.roles).toBe(1);
    expect(got.usages).toHaveLength(1);

    // At the wire: beta was asked to continue, with alpha's partial answer as the assistant's prefix.
    expect(beta.requests).toHaveLength(1);
    const sent = beta.requests[0]!.body as { messages: Array<{ role: string; content: string }> };
    expect(sent.messages).toEqual([
      { role: 'user', content: 'tell me a story' },
      { role: 'assistant', content: 'alpha '.repeat(3) },
      { role: 'user', content: CONTINUE_PROMPT },
    ]);

    const requestId = response.headers.get('x-request-id')!;
    const row = await usageRow(requestId);
    expect(row).toMatchObject({ status: 'ok', channel_id: 'beta', error_class: '' }); // ClickHouse keeps no class as ''
    const attempts = JSON.parse(row.attempts) as Array<{ channel_id: string; error_class: string | null; usage: { input_tokens: number; output_tokens: number }; cost_nano: number }>;
    expect(attempts.map((a) => [a.channel_id, a.error_class])).toEqual([
      ['alpha', 'mid_stream'],
      ['beta', null],
    ]);
    const [a, b] = attempts as [(typeof attempts)[0], (typeof attempts)[0]];
    expect(a.usage.output_tokens).toBeGreaterThan(0);
    expect(b.usage.output_tokens).toBe(4);
    expect(row.input_tokens).toBe(a.usage.input_tokens + b.usage.input_tokens);
    expect(row.output_tokens).toBe(a.usage.output_tokens + b.usage.output_tokens);
    // The client's usage chunk tells the same totals.
    expect(got.usages[0]).toMatchObject({ prompt_tokens: row.input_tokens, completion_tokens: row.output_tokens });
    const expected = roundedCost(a.usage, PRICES.alpha) + roundedCost(b.usage, PRICES.beta);
    expect(BigInt(a.cost_nano)).toBe(roundedCost(a.usage, PRICES.alpha));
    expect(BigInt(row.cost_nano)).toBe(expected);
    expect(await ledgerAmount(requestId)).toBe(-expected);
  });

  it('continues after a provider error event mid-stream (opt-in in the body), relaying no error to the client', async () => {
    alpha.setBehavior({ chunks: 6, chunkText: 'alpha ', errorAfterChunks: 2 });
    const stream = await client(stack.apiKey, { 'x-switchyard-route': 'fallback' }).chat.completions.create({
      model: 'chat',
      stream: true,
      messages: [{ role: 'user', content: 'go' }],
      route: { mid_stream_failover: true },
    } as OpenAI.Chat.ChatCompletionCreateParamsStreaming);
    const got = await readStream(stream);
    expect(got.error).toBeNull();
    expect(got.text).toBe('alpha '.repeat(2) + 'beta '.repeat(4));
    expect(got.usages).toHaveLength(0);
  });

  it('a key with mid-stream failover on continues without any request header', async () => {
    const key = await createKey('failover-key', ['--route-midstream-failover', 'on']);
    alpha.setBehavior({ chunks: 6, chunkText: 'alpha ', breakAfterChunks: 1 });
    const stream = await client(key, { 'x-switchyard-route': 'fallback' }).chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'go' }] });
    const got = await readStream(stream);
    expect(got.error).toBeNull();
    expect(got.text).toBe('alpha ' + 'beta '.repeat(4));
  });

  it('without opt-in a broken stream still ends with the error event, bills what was delivered, and calls no other channel', async () => {
    alpha.setBehavior({ chunks: 6, chunkText: 'alpha ', breakAfterChunks: 3 });
    const { data: stream, response } = await client(stack.apiKey, { 'x-switchyard-route': 'fallback' })
      .chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'go' }] })
      .withResponse();
    const got = await readStream(stream);
    expect(got.text).toBe('alpha '.repeat(3));
    expect(got.error).toBeInstanceOf(OpenAI.APIError);
    expect(String((got.error as Error).message)).toContain('stream broke');
    expect(beta.stats().received).toBe(0);
    const row = await usageRow(response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ status: 'error', channel_id: 'alpha', error_class: 'mid_stream' });
    expect((JSON.parse(row.attempts) as Array<{ usage?: unknown }>)[0]!.usage).toBeUndefined();
  });

  it('ends with the error event when no other channel can continue (a key restricted to the broken one)', async () => {
    const key = await createKey('alpha-only', ['--route-channels', 'alpha', '--route-midstream-failover', 'on']);
    alpha.setBehavior({ chunks: 6, chunkText: 'alpha ', breakAfterChunks: 2 });
    const stream = await client(key).chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'go' }] });
    const got = await readStream(stream);
    expect(got.text).toBe('alpha '.repeat(2));
    expect(got.error).toBeInstanceOf(OpenAI.APIError);
    expect(beta.stats().received).toBe(0);
  });

  it('does not fail over when the break is inside a tool call: the stream ends with the error event', async () => {
    alpha.setBehavior({ chunks: 1, chunkText: 'alpha ', toolCalls: [{ name: 'lookup', arguments: { city: 'Paris', days: 3 } }], breakInToolCall: true });
    const stream = await client(stack.apiKey, { 'x-switchyard-route': 'fallback', 'x-switchyard-midstream-failover': '1' }).chat.completions.create({
      model: 'tools',
      stream: true,
      messages: [{ role: 'user', content: 'go' }],
      tools: [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object' } } }],
    });
    const got = await readStream(stream);
    expect(got.text).toBe('alpha ');
    expect(got.error).toBeInstanceOf(OpenAI.APIError);
    expect(beta.stats().received).toBe(0);
  });

  it('Gemini channels: the next one gets the partial answer as a model turn', async () => {
    gemA.setBehavior({ chunks: 4, chunkText: 'uno ', breakAfterChunks: 2 });
    const stream = await client(stack.apiKey, { 'x-switchyard-route': 'fallback', 'x-switchyard-midstream-failover': '1' }).chat.completions.create({
      model: 'gem',
      stream: true,
      messages: [{ role: 'user', content: 'count' }],
    });
    const got = await readStream(stream);
    expect(got.error).toBeNull();
    expect(got.text).toBe('uno uno dos dos ');
    expect(got.roles).toBe(1);
    const sent = gemB.requests[0]!.body as { contents: Array<{ role: string; parts: Array<{ text?: string }> }> };
    const last = sent.contents[sent.contents.length - 1]!;
    expect(last.role).toBe('model');
    expect(last.parts.map((p) => p.text ?? '').join('')).toBe('uno uno ');
  });

  describe('through the Anthropic SDK (translated path)', () => {
    const anthropic = () =>
      new Anthropic({ baseURL: stack.ingressUrl, apiKey: stack.apiKey, maxRetries: 0, defaultHeaders: { 'x-switchyard-route': 'fallback', 'x-switchyard-midstream-failover': '1' } });
    const textOf = (content: unknown) => (typeof content === 'string' ? content : (content as Array<{ text?: string }>).map((b) => b.text ?? '').join(''));

    it('Anthropic channels: the next one gets the partial answer as an assistant prefill, and the client sees one message', async () => {
      anthA.setBehavior({ chunks: 4, chunkText: 'first ', breakAfterChunks: 2 });
      const stream = anthropic().messages.stream({ model: 'claude', max_tokens: 100, messages: [{ role: 'user', content: 'go' }] });
      let text = '';
      stream.on('text', (t) => (text += t));
      const { response } = await stream.withResponse();
      const final = await stream.finalMessage();
      expect(text).toBe('first first second second second ');
      expect(textOf(final.content)).toBe(text);
      const sent = anthB.requests[0]!.body as { messages: Array<{ role: string; content: unknown }> };
      expect(sent.messages).toHaveLength(2);
      expect(sent.messages[1]!.role).toBe('assistant');
      // Anthropic refuses a prefill ending in whitespace: trimmed.
      expect(textOf(sent.messages[1]!.content)).toBe('first first');
      // The usage the client sees counts both attempts, as the books do.
      const row = await usageRow(response.headers.get('x-request-id')!);
      expect(row).toMatchObject({ status: 'ok', channel_id: 'anth-b' });
      const attempts = JSON.parse(row.attempts) as Array<{ channel_id: string; usage: { output_tokens: number } }>;
      expect(attempts.map((a) => a.channel_id)).toEqual(['anth-a', 'anth-b']);
      // anth-a delivered "first first " (12 characters, at least 3 tokens though its message_start said 1); anth-b its own 3.
      expect(attempts.map((a) => a.usage.output_tokens)).toEqual([3, 3]);
      expect(final.usage.output_tokens).toBe(row.output_tokens);
      expect(row.output_tokens).toBe(6);
    });

    it('OpenAI channels: continues with the assistant message and a request to continue, books both attempts', async () => {
      alpha.setBehavior({ chunks: 6, chunkText: 'alpha ', breakAfterChunks: 2 });
      const { data: stream, response } = await anthropic()
        // Its own model: alpha's breaker for "chat" may be open after the breaks above (breakers are per channel and model).
        .messages.create({ model: 'story', max_tokens: 100, stream: true, messages: [{ role: 'user', content: 'go' }] })
        .withResponse();
      let text = '';
      let outputTokens = 0;
      let starts = 0;
      for await (const ev of stream) {
        if (ev.type === 'message_start') starts++;
        if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') text += ev.delta.text;
        if (ev.type === 'message_delta') outputTokens = ev.usage.output_tokens;
      }
      expect(starts).toBe(1);
      expect(text).toBe('alpha alpha ' + 'beta '.repeat(4));
      const sent = beta.requests[0]!.body as { messages: Array<{ role: string; content: unknown }> };
      expect(sent.messages.slice(-2).map((m) => [m.role, textOf(m.content)])).toEqual([
        ['assistant', 'alpha alpha '],
        ['user', CONTINUE_PROMPT],
      ]);
      const row = await usageRow(response.headers.get('x-request-id')!);
      expect(row).toMatchObject({ status: 'ok', channel_id: 'beta' });
      const attempts = JSON.parse(row.attempts) as Array<{ channel_id: string; usage?: { output_tokens: number } }>;
      expect(attempts.map((a) => a.channel_id)).toEqual(['alpha', 'beta']);
      expect(attempts[1]!.usage!.output_tokens).toBe(4);
      expect(outputTokens).toBe(row.output_tokens);
      expect(row.output_tokens).toBe(attempts[0]!.usage!.output_tokens + 4);
    });
  });
});
