import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { Client } from 'pg';
import { FakeOAuthIssuer, startFakeAnthropic, startFakeGemini, startFakeOpenAI, type FakeProvider } from '@switchyard/fake-provider';
import { clickhouseQuery, startStack, type Stack } from '@switchyard/testkit';
import { until } from '../support/until';

/**
 * The outbound adapters end to end, with the real `openai` SDK as the client:
 * an Azure OpenAI channel, OAuth refresh-token channels across token expiry,
 * model-variant suffixes on each provider, and Anthropic cache writes billed
 * at the cache-write rate.
 */

const AZURE_KEY = 'azure-key-0123456789';
const OAUTH = { clientId: 'switchyard-client', clientSecret: 'oauth-client-secret-XYZ987', refreshToken: 'oauth-refresh-token-ABC123' };

let azureUp: FakeProvider;
let oauthUp: FakeProvider;
let issuer: FakeOAuthIssuer;
let openaiUp: FakeProvider;
let anthropicUp: FakeProvider;
let geminiUp: FakeProvider;
let cacheUp: FakeProvider;
let stack: Stack;
let pg: Client;

const price = { inputUsdPerMtok: '1', outputUsdPerMtok: '2' };
const origin = (f: FakeProvider) => f.url.replace(/\/v1$/, '');

interface Row {
  request_id: string;
  model_requested: string;
  model_served: string;
  channel_id: string;
  status: string;
  error_class: string;
  input_tokens: number;
  output_tokens: number;
  cached_input_tokens: number;
  cache_write_input_tokens: number;
  attempts: string;
  cost_nano: string;
}

/** The request's ClickHouse row (every column, as JSON text too) and its ledger amount (null: none). */
async function booked(requestId: string, ledger = true): Promise<{ row: Row; raw: string; amount: bigint | null; priceId: string | null }> {
  const id = requestId.replace(/[^0-9a-zA-Z-]/g, '');
  const raw = await until('usage row', async () => {
    const out = await clickhouseQuery(stack.urls.clickhouseUrl, `SELECT * FROM ${stack.urls.clickhouseDatabase}.usage_events WHERE request_id = '${id}' FORMAT JSONEachRow`);
    return out.trim() ? out.trim() : undefined;
  });
  let amount: bigint | null = null;
  let priceId: string | null = null;
  if (ledger) {
    const rows = await until('ledger row', async () => {
      const r = await pg.query<{ amount: string; price_id: string | null }>('SELECT amount_nano::text AS amount, price_id::text AS price_id FROM ledger WHERE request_id = $1', [
        requestId,
      ]);
      return r.rows.length ? r.rows : undefined;
    });
    amount = BigInt(rows[0]!.amount);
    priceId = rows[0]!.price_id;
  }
  return { row: JSON.parse(raw.split('\n')[0]!) as Row, raw, amount, priceId };
}

const client = () => new OpenAI({ baseURL: `${stack.ingressUrl}/v1`, apiKey: stack.apiKey, maxRetries: 0 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  azureUp = await startFakeOpenAI({ requireApiKey: AZURE_KEY, behavior: { chunks: 3, chunkText: 'az ' } });
  issuer = new FakeOAuthIssuer({ ...OAUTH, ttlSeconds: 2 });
  oauthUp = await startFakeOpenAI({ oauth: issuer, behavior: { chunks: 2, chunkText: 'ok ' } });
  openaiUp = await startFakeOpenAI({ behavior: { chunks: 2, chunkText: 'hi ' } });
  anthropicUp = await startFakeAnthropic({ behavior: { chunks: 2, chunkText: 'hi ' } });
  geminiUp = await startFakeGemini({ behavior: { chunks: 2, chunkText: 'hi ' } });
  cacheUp = await startFakeAnthropic({ behavior: { chunks: 2, chunkText: 'hi ', cacheWriteTokens: 40, cachedTokens: 0 } });
  const oauthArgs = (secret: string) => [
    '--oauth-client-id', OAUTH.clientId,
    '--oauth-client-secret', secret,
    '--oauth-token-url', `${origin(oauthUp)}/oauth/token`,
    '--oauth-refresh-token', OAUTH.refreshToken,
  ];
  stack = await startStack({
    channels: [
      { id: 'azure', provider: 'azure-openai', baseUrl: origin(azureUp), apiKey: AZURE_KEY, extraArgs: ['--api-version', '2024-10-21'], models: [{ model: 'azure-4o', upstream: 'prod-4o', ...price }, { model: 'azure-embed', upstream: 'embed-3-small', ...price }] },
      { id: 'oauth', baseUrl: oauthUp.url, extraArgs: oauthArgs(OAUTH.clientSecret), models: [{ model: 'oauth-4o', upstream: 'gpt-4o', ...price }] },
      { id: 'oauth-bad', baseUrl: oauthUp.url, extraArgs: oauthArgs('not-the-secret-QQQ'), models: [{ model: 'oauth-bad-4o', upstream: 'gpt-4o', ...price }] },
      { id: 'oai', baseUrl: openaiUp.url, models: [{ model: 'o4-mini', ...price }] },
      { id: 'anth', provider: 'anthropic', baseUrl: origin(anthropicUp), models: [{ model: 'claude-sonnet', upstream: 'claude-sonnet-4-5', ...price }] },
      { id: 'gem', provider: 'gemini', baseUrl: origin(geminiUp), models: [{ model: 'gemini-flash', upstream: 'gemini-2.5-flash', ...price }] },
      {
        id: 'anth-cache',
        provider: 'anthropic',
        baseUrl: origin(cacheUp),
        models: [{ model: 'claude-cache', upstream: 'claude-sonnet-4-5', inputUsdPerMtok: '3', outputUsdPerMtok: '15', cachedInputUsdPerMtok: '0.3', cacheWriteUsdPerMtok: '3.75' }],
      },
    ],
    // Debug logs, so the leak check below covers everything the services say.
    env: { ingress: { LOG_LEVEL: 'debug' }, billing: { LOG_LEVEL: 'debug' } },
  });
  pg = new Client({ connectionString: stack.urls.databaseUrl });
  await pg.connect();
});

afterAll(async () => {
  await pg?.end();
  await stack?.stop();
  await Promise.all([azureUp, oauthUp, openaiUp, anthropicUp, geminiUp, cacheUp].map((f) => f?.close()));
});

describe('Azure OpenAI channel', () => {
  it('serves chat through the deployment URL with the api-key header and the api-version, streamed and not', async () => {
    const { data, response } = await client().chat.completions.create({ model: 'azure-4o', messages: [{ role: 'user', content: 'hello azure' }] }).withResponse();
    expect(data.choices[0]!.message.content).toBe('az az az ');
    const rec = azureUp.requests.at(-1)!;
    expect(rec.path).toBe('/openai/deployments/prod-4o/chat/completions');
    expect(rec.query).toBe('api-version=2024-10-21');
    expect(rec.hasAuth).toBe(true);
    expect(rec.headers).not.toHaveProperty('authorization');
    const { row } = await booked(response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ channel_id: 'azure', model_requested: 'azure-4o', status: 'ok', output_tokens: data.usage!.completion_tokens });

    const { data: stream, response: sr } = await client()
      .chat.completions.create({ model: 'azure-4o', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'stream azure' }] })
      .withResponse();
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const c of stream) {
      text += c.choices[0]?.delta?.content ?? '';
      if (c.usage) usage = c.usage;
    }
    expect(text).toBe('az az az ');
    expect(azureUp.requests.at(-1)!.query).toBe('api-version=2024-10-21');
    const { row: srow } = await booked(sr.headers.get('x-request-id')!);
    expect(srow).toMatchObject({ channel_id: 'azure', output_tokens: usage!.completion_tokens });
  });

  it('serves embeddings from the embeddings deployment', async () => {
    const { data, response } = await client().embeddings.create({ model: 'azure-embed', input: 'embed me' }).withResponse();
    expect(data.data[0]!.embedding.length).toBeGreaterThan(0);
    const rec = azureUp.requests.at(-1)!;
    expect(rec.path).toBe('/openai/deployments/embed-3-small/embeddings');
    expect(rec.query).toBe('api-version=2024-10-21');
    const { row } = await booked(response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ channel_id: 'azure', model_requested: 'azure-embed', status: 'ok' });
  });
});

describe('OAuth refresh-token channel', () => {
  it('keeps answering across access-token expiry, refreshing at the token endpoint; no secret reaches events, rows or logs', async () => {
    const ids: string[] = [];
    const before = issuer.tokenRequests;
    for (let i = 0; i < 3; i++) {
      // Concurrent requests with no valid token (first use, then after each expiry) share one refresh.
      const burst = await Promise.all(
        Array.from({ length: 4 }, () => client().chat.completions.create({ model: 'oauth-4o', stream: true, messages: [{ role: 'user', content: 'burst' }] }).withResponse()),
      );
      for (const b of burst) {
        let t = '';
        for await (const c of b.data) t += c.choices[0]?.delta?.content ?? '';
        expect(t).toBe('ok ok ');
        ids.push(b.response.headers.get('x-request-id')!);
      }
      const { data, response } = await client().chat.completions.create({ model: 'oauth-4o', messages: [{ role: 'user', content: `call ${i}` }] }).withResponse();
      expect(data.choices[0]!.message.content).toBe('ok ok ');
      ids.push(response.headers.get('x-request-id')!);
      await sleep(2_300); // past the 2 s token lifetime
    }
    // Every upstream request carried a token that was valid then (the fake answers 401 otherwise).
    expect(oauthUp.requests.filter((r) => r.path === '/v1/chat/completions').every((r) => r.status === 200)).toBe(true);
    // About one refresh per token lifetime (15 requests over 3 lifetimes; a slow run may add a
    // background refresh near expiry), not one per request.
    const refreshes = issuer.tokenRequests - before;
    expect(refreshes).toBeGreaterThanOrEqual(3);
    expect(refreshes).toBeLessThanOrEqual(5);

    const secrets = [OAUTH.clientSecret, OAUTH.refreshToken, ...issuer.issuedTokens()];
    for (const id of ids) {
      const { raw, row } = await booked(id);
      expect(row).toMatchObject({ channel_id: 'oauth', status: 'ok' });
      for (const s of secrets) expect(raw).not.toContain(s);
    }
    for (const name of ['ingress', 'billing', 'router', 'stats'] as const) {
      const logs = stack.services[name].logs();
      for (const s of secrets) expect(logs, `${name} logs`).not.toContain(s);
    }
  });

  it('a refused refresh is an auth failure of that channel, with nothing secret in the error', async () => {
    const res = await fetch(`${stack.ingressUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'oauth-bad-4o', messages: [{ role: 'user', content: 'hi' }] }),
    });
    const text = await res.text();
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect(JSON.parse(text)).toHaveProperty('error.message');
    for (const s of ['not-the-secret-QQQ', OAUTH.refreshToken, OAUTH.clientSecret]) expect(text).not.toContain(s);
    const { row, raw } = await booked(res.headers.get('x-request-id')!, false);
    expect(row.status).toBe('error');
    expect(JSON.parse(row.attempts)).toEqual([expect.objectContaining({ channel_id: 'oauth-bad', error_class: 'auth' })]);
    expect(raw).not.toContain('not-the-secret-QQQ');
  });
});

describe('model-variant suffixes', () => {
  it('route by the base model and send each provider its own reasoning parameter; the books keep the id the client sent', async () => {
    const cases: Array<{ model: string; up: () => FakeProvider; check: (body: Record<string, unknown>) => void; channel: string }> = [
      { model: 'o4-mini-high', up: () => openaiUp, channel: 'oai', check: (b) => expect(b).toMatchObject({ model: 'o4-mini', reasoning_effort: 'high' }) },
      {
        model: 'claude-sonnet-thinking-2048',
        up: () => anthropicUp,
        channel: 'anth',
        check: (b) => expect(b).toMatchObject({ model: 'claude-sonnet-4-5', thinking: { type: 'enabled', budget_tokens: 2048 } }),
      },
      { model: 'claude-sonnet-high', up: () => anthropicUp, channel: 'anth', check: (b) => expect(b).toMatchObject({ thinking: { type: 'enabled', budget_tokens: 24576 } }) },
      { model: 'gemini-flash-thinking-512', up: () => geminiUp, channel: 'gem', check: (b) => expect(b).toMatchObject({ generationConfig: { thinkingConfig: { thinkingBudget: 512 } } }) },
      { model: 'gemini-flash-nothinking', up: () => geminiUp, channel: 'gem', check: (b) => expect(b).toMatchObject({ generationConfig: { thinkingConfig: { thinkingBudget: 0 } } }) },
    ];
    for (const c of cases) {
      const { data, response } = await client().chat.completions.create({ model: c.model, messages: [{ role: 'user', content: 'think' }] }).withResponse();
      expect(data.choices[0]!.message.content, c.model).toBe('hi hi ');
      c.check(c.up().requests.at(-1)!.body as Record<string, unknown>);
      const { row, priceId, amount } = await booked(response.headers.get('x-request-id')!);
      expect(row).toMatchObject({ model_requested: c.model, channel_id: c.channel, status: 'ok' });
      // Billed at the base model's price ($1/M in, $2/M out), not just the ingress estimate.
      expect(priceId, c.model).not.toBeNull();
      expect(amount! < 0n ? -amount! : amount!).toBe(BigInt(row.input_tokens * 1000 + row.output_tokens * 2000));
    }
    // A variant of a model nobody serves is still a 404, and variants are not listed.
    await expect(client().chat.completions.create({ model: 'gpt-9-high', messages: [{ role: 'user', content: 'x' }] })).rejects.toMatchObject({ status: 404 });
    const listed = (await client().models.list()).data.map((m) => m.id);
    expect(listed).toContain('o4-mini');
    expect(listed).not.toContain('o4-mini-high');
  });
});

describe('Anthropic cache writes', () => {
  it('are stored and billed at the cache-write rate, streamed and not', async () => {
    for (const stream of [false, true]) {
      let requestId: string;
      let promptTokens: number;
      let completionTokens: number;
      if (!stream) {
        const { data, response } = await client().chat.completions.create({ model: 'claude-cache', messages: [{ role: 'user', content: 'cache this long prompt please' }] }).withResponse();
        requestId = response.headers.get('x-request-id')!;
        promptTokens = data.usage!.prompt_tokens;
        completionTokens = data.usage!.completion_tokens;
      } else {
        const { data, response } = await client()
          .chat.completions.create({ model: 'claude-cache', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'cache this long prompt please' }] })
          .withResponse();
        let usage: OpenAI.CompletionUsage | undefined;
        for await (const c of data) if (c.usage) usage = c.usage;
        requestId = response.headers.get('x-request-id')!;
        promptTokens = usage!.prompt_tokens;
        completionTokens = usage!.completion_tokens;
      }
      const { row, amount } = await booked(requestId);
      expect(row.cache_write_input_tokens).toBe(40);
      expect(row.input_tokens).toBe(promptTokens);
      // $3/M input, $3.75/M cache write, $15/M output: nano per token 3000, 3750, 15000.
      const expected = BigInt((promptTokens - 40) * 3000 + 40 * 3750 + completionTokens * 15000);
      expect(amount! < 0n ? -amount! : amount!).toBe(expected);
      // Ingress's estimate priced it the same way.
      expect(BigInt(row.cost_nano)).toBe(expected);
    }
  });
});
