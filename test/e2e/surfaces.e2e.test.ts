import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import { Client } from 'pg';
import { startFakeAnthropic, startFakeOpenAI, type FakeProvider } from '@switchyard/fake-provider';
import { clickhouseQuery, startStack, type Stack } from '@switchyard/testkit';
import { until } from '../support/until';

let openaiUp: FakeProvider;
let anthropicUp: FakeProvider;
let flakyUp: FakeProvider;
let stack: Stack;
let pg: Client;

const price = { inputUsdPerMtok: '1', outputUsdPerMtok: '2' };
const ALL_MODELS = ['claude-sonnet', 'embed-b', 'gpt-3.5-turbo-instruct', 'gpt-4o-mini', 'text-embedding-3-small'];

interface UsageRow {
  channel_id: string;
  model_requested: string;
  stream: number;
  status: string;
  input_tokens: number;
  output_tokens: number;
  usage_estimated: number;
  cost_nano: string;
}

/** `until` for the books, saying on timeout where the usage event stopped (see Stack.diagnose). */
const untilBooked = <T>(what: string, fn: () => Promise<T | undefined>) => until(what, fn, 20_000, () => stack.diagnose());

/** The request's books: exactly one ClickHouse row and one ledger row, with the same cost. */
async function booked(requestId: string): Promise<UsageRow> {
  const id = requestId.replace(/[^0-9a-f-]/g, '');
  const rows = await untilBooked('usage row', async () => {
    const out = await clickhouseQuery(
      stack.urls.clickhouseUrl,
      `SELECT channel_id, model_requested, stream, status, input_tokens, output_tokens, usage_estimated, toString(cost_nano) AS cost_nano FROM ${stack.urls.clickhouseDatabase}.usage_events WHERE request_id = '${id}' FORMAT JSONEachRow`,
    );
    const lines = out.split('\n').filter(Boolean);
    return lines.length ? lines.map((l) => JSON.parse(l) as UsageRow) : undefined;
  });
  const ledger = await untilBooked('ledger row', async () => {
    const r = await pg.query<{ amount: string }>('SELECT amount_nano::text AS amount FROM ledger WHERE request_id = $1', [requestId]);
    return r.rows.length ? r.rows : undefined;
  });
  // Give a duplicate the time to show up before saying "exactly once".
  await new Promise((r) => setTimeout(r, 500));
  const again = await clickhouseQuery(stack.urls.clickhouseUrl, `SELECT count() AS n FROM ${stack.urls.clickhouseDatabase}.usage_events WHERE request_id = '${id}' FORMAT JSONEachRow`);
  expect((JSON.parse(again.trim()) as { n: string | number }).n.toString()).toBe('1');
  expect(rows).toHaveLength(1);
  expect(ledger).toHaveLength(1);
  expect(BigInt(ledger[0]!.amount) === -BigInt(rows[0]!.cost_nano) || BigInt(ledger[0]!.amount) === BigInt(rows[0]!.cost_nano)).toBe(true);
  return rows[0]!;
}

beforeAll(async () => {
  openaiUp = await startFakeOpenAI({ behavior: { chunks: 3, chunkText: 'ok ' } });
  anthropicUp = await startFakeAnthropic({ behavior: { chunks: 3, chunkText: 'ok ' } });
  flakyUp = await startFakeOpenAI({ behavior: { failStatus: 500 } });
  stack = await startStack({
    channels: [
      {
        id: 'oai',
        baseUrl: openaiUp.url,
        apiKey: 'upstream-secret',
        models: [
          { model: 'gpt-4o-mini', ...price },
          { model: 'text-embedding-3-small', ...price },
          { model: 'gpt-3.5-turbo-instruct', ...price },
          { model: 'embed-b', ...price },
        ],
      },
      { id: 'flaky', baseUrl: flakyUp.url, models: [{ model: 'embed-b', ...price }] },
      { id: 'anth', provider: 'anthropic', baseUrl: anthropicUp.url, models: [{ model: 'claude-sonnet', upstream: 'claude-sonnet-4-5', ...price }] },
    ],
  });
  pg = new Client({ connectionString: stack.urls.databaseUrl });
  await pg.connect();
}, 120_000);

afterAll(async () => {
  await pg?.end();
  await stack?.stop();
  await Promise.all([openaiUp, anthropicUp, flakyUp].map((f) => f?.close()));
});

const openai = () => new OpenAI({ baseURL: `${stack.ingressUrl}/v1`, apiKey: stack.apiKey, maxRetries: 0 });

describe('POST /v1/embeddings', () => {
  it('answers the openai SDK with the upstream vectors and books usage.prompt_tokens once', async () => {
    const { data, response } = await openai().embeddings.create({ model: 'text-embedding-3-small', input: ['four words right here', 'two more'] }).withResponse();
    expect(data.data).toHaveLength(2);
    expect(data.data[0]!.embedding).toHaveLength(16);
    expect(data.data[0]!.embedding).not.toEqual(data.data[1]!.embedding);
    expect(data.usage.prompt_tokens).toBe(6);
    const requestId = response.headers.get('x-request-id')!;
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    // The channel's model id and credential went upstream; the client's key did not.
    const up = openaiUp.requests.at(-1)!;
    expect(up.path).toBe('/v1/embeddings');
    expect(up.keyLast4).toBe('cret');
    const row = await booked(requestId);
    expect(row).toMatchObject({ channel_id: 'oai', model_requested: 'text-embedding-3-small', status: 'ok', input_tokens: 6, output_tokens: 0, usage_estimated: 0 });
    // 6 input tokens at 1 USD/Mtok.
    expect(row.cost_nano).toBe('6000');
  });

  it('errors in the OpenAI shape: unknown model, a model no OpenAI-compatible channel serves, bad input', async () => {
    await expect(openai().embeddings.create({ model: 'no-such-model', input: 'x' })).rejects.toMatchObject({ status: 404 });
    const err = await openai()
      .embeddings.create({ model: 'claude-sonnet', input: 'x' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('model');
    const res = await fetch(`${stack.ingressUrl}/v1/embeddings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'text-embedding-3-small', input: 42 }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string; type: string } }).error).toMatchObject({ param: 'input', type: 'invalid_request_error' });
    await expect(new OpenAI({ baseURL: `${stack.ingressUrl}/v1`, apiKey: 'sk-wrong', maxRetries: 0 }).embeddings.create({ model: 'text-embedding-3-small', input: 'x' })).rejects.toMatchObject({
      status: 401,
    });
  });

  it('relays an upstream failure in the OpenAI shape and books it once as an error', async () => {
    openaiUp.setBehavior({ failStatus: 400 });
    try {
      const res = await fetch(`${stack.ingressUrl}/v1/embeddings`, {
        method: 'POST',
        headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'text-embedding-3-small', input: 'x' }),
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
      const out = await untilBooked('error row', async () => {
        const r = await clickhouseQuery(
          stack.urls.clickhouseUrl,
          `SELECT status, input_tokens FROM ${stack.urls.clickhouseDatabase}.usage_events WHERE request_id = '${res.headers.get('x-request-id')!.replace(/[^0-9a-f-]/g, '')}' FORMAT JSONEachRow`,
        );
        return r.trim() ? r.trim().split('\n') : undefined;
      });
      expect(out).toHaveLength(1);
      expect(JSON.parse(out[0]!)).toMatchObject({ status: 'error', input_tokens: 0 });
    } finally {
      openaiUp.setBehavior({ chunks: 3, chunkText: 'ok ' });
    }
  });
});

describe('channel order, failures and limits', () => {
  it('falls back to the next channel when the first fails, and books the one request once', async () => {
    const before = flakyUp.stats().received;
    const { data, response } = await openai()
      .embeddings.create({ model: 'embed-b', input: 'fall back' }, { headers: { 'x-switchyard-route': 'order=flaky,oai' } })
      .withResponse();
    expect(data.usage.prompt_tokens).toBe(2);
    expect(flakyUp.stats().received).toBe(before + 1);
    const row = await booked(response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ channel_id: 'oai', status: 'ok', input_tokens: 2 });
    const attempts = await clickhouseQuery(
      stack.urls.clickhouseUrl,
      `SELECT attempt_count FROM ${stack.urls.clickhouseDatabase}.usage_events WHERE request_id = '${response.headers.get('x-request-id')!}' FORMAT JSONEachRow`,
    );
    expect(JSON.parse(attempts.trim())).toEqual({ attempt_count: 2 });
  });

  it('a stream that breaks mid-way ends with an OpenAI error event and bills what was delivered', async () => {
    openaiUp.setBehavior({ chunks: 5, chunkText: 'ok ', chunkDelayMs: 5, breakAfterChunks: 2 });
    try {
      const res = await fetch(`${stack.ingressUrl}/v1/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-3.5-turbo-instruct', prompt: 'break please', stream: true }),
      });
      expect(res.status).toBe(200);
      const text = await res.text();
      const events = text.split('\n\n').filter(Boolean);
      expect(events).toHaveLength(3);
      expect(JSON.parse(events[0]!.slice(6))).toMatchObject({ object: 'text_completion', choices: [{ text: 'ok ' }] });
      expect(JSON.parse(events[2]!.slice(6))).toMatchObject({ error: { code: 'stream_interrupted' } });
      expect(text).not.toContain('[DONE]');
      const row = await untilBooked('error row', async () => {
        const out = await clickhouseQuery(
          stack.urls.clickhouseUrl,
          `SELECT status, error_class, output_tokens, usage_estimated FROM ${stack.urls.clickhouseDatabase}.usage_events WHERE request_id = '${res.headers.get('x-request-id')!}' FORMAT JSONEachRow`,
        );
        return out.trim() ? out.trim().split('\n') : undefined;
      });
      expect(row).toHaveLength(1);
      // Two chunks of "ok " delivered: "ok ok " is 3 o200k tokens ("ok", " ok", " "), where 6 chars / 4 would say 2.
      expect(JSON.parse(row[0]!)).toEqual({ status: 'error', error_class: 'mid_stream', output_tokens: 3, usage_estimated: 1 });
    } finally {
      openaiUp.setBehavior({ chunks: 3, chunkText: 'ok ' });
    }
  });

  it('a client that leaves mid-stream: the upstream is aborted at once and the delivered tokens are billed once', async () => {
    openaiUp.setBehavior({ chunks: 200, chunkText: 'ok ', chunkDelayMs: 20 });
    try {
      const ac = new AbortController();
      const res = await fetch(`${stack.ingressUrl}/v1/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-3.5-turbo-instruct', prompt: 'long story', stream: true }),
        signal: ac.signal,
      });
      const reader = res.body!.getReader();
      await reader.read();
      ac.abort();
      await until('upstream aborted', async () => (openaiUp.requests.at(-1)!.aborted ? true : undefined), 5_000);
      expect(openaiUp.requests.at(-1)!.chunksSent).toBeLessThan(100);
      const rows = await untilBooked('abort row', async () => {
        const out = await clickhouseQuery(
          stack.urls.clickhouseUrl,
          `SELECT status, http_status, error_class, output_tokens FROM ${stack.urls.clickhouseDatabase}.usage_events WHERE request_id = '${res.headers.get('x-request-id')!}' FORMAT JSONEachRow`,
        );
        return out.trim() ? out.trim().split('\n') : undefined;
      });
      expect(rows).toHaveLength(1);
      const row = JSON.parse(rows[0]!) as { status: string; http_status: number; error_class: string; output_tokens: number };
      expect(row).toMatchObject({ status: 'error', http_status: 499, error_class: 'client_abort' });
      expect(row.output_tokens).toBeGreaterThan(0);
    } finally {
      openaiUp.setBehavior({ chunks: 3, chunkText: 'ok ' });
    }
  });

  it("applies the key's rate limit: over it, a 429 in the OpenAI shape with Retry-After", async () => {
    const created = JSON.parse(await stack.admin(['create-key', '--account', stack.accountId, '--name', 'one-a-minute', '--rpm', '1', '--json'])) as { key: string };
    const c = new OpenAI({ baseURL: `${stack.ingressUrl}/v1`, apiKey: created.key, maxRetries: 0 });
    const { response } = await c.embeddings.create({ model: 'text-embedding-3-small', input: 'first' }).withResponse();
    expect(response.headers.get('x-ratelimit-limit-requests')).toBe('1');
    const err = await c.completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'second' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(Number((err as InstanceType<typeof OpenAI.RateLimitError>).headers?.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('POST /v1/completions (legacy)', () => {
  it('non-stream: the text_completion comes back and its usage is booked once', async () => {
    const { data, response } = await openai().completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'Say ok three times' }).withResponse();
    expect(data.object).toBe('text_completion');
    expect(data.choices[0]!.text).toBe('ok ok ok ');
    expect(data.usage).toMatchObject({ prompt_tokens: 4, completion_tokens: 3 });
    const row = await booked(response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ channel_id: 'oai', stream: 0, input_tokens: 4, output_tokens: 3, usage_estimated: 0 });
    expect(row.cost_nano).toBe(String(4 * 1000 + 3 * 2000));
  });

  it('stream with include_usage: the client sees the usage chunk; the books match it', async () => {
    const { data: stream, response } = await openai()
      .completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'go on please', stream: true, stream_options: { include_usage: true } })
      .withResponse();
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('ok ok ok ');
    expect(usage).toMatchObject({ prompt_tokens: 3, completion_tokens: 3 });
    const row = await booked(response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ stream: 1, input_tokens: 3, output_tokens: 3, usage_estimated: 0 });
  });

  it('stream without include_usage: usage is asked for upstream, hidden from the client, and booked exactly', async () => {
    const { data: stream, response } = await openai().completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'go on', stream: true }).withResponse();
    let text = '';
    let sawUsage = false;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.text ?? '';
      if (chunk.usage) sawUsage = true;
      expect(chunk.choices.length).toBeGreaterThan(0);
    }
    expect(text).toBe('ok ok ok ');
    expect(chunks).toBe(4);
    expect(sawUsage).toBe(false);
    const up = openaiUp.requests.at(-1)!;
    expect(up.path).toBe('/v1/completions');
    expect((up.body as { stream_options?: unknown }).stream_options).toEqual({ include_usage: true });
    const row = await booked(response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ stream: 1, input_tokens: 2, output_tokens: 3, usage_estimated: 0 });
  });
});

describe('model lists in each protocol', () => {
  it('@anthropic-ai/sdk models.list(): the Anthropic list shape', async () => {
    const anthropic = new Anthropic({ baseURL: stack.ingressUrl, apiKey: stack.apiKey, maxRetries: 0 });
    const ids: string[] = [];
    for await (const m of anthropic.models.list()) {
      expect(m.type).toBe('model');
      expect(m.display_name).toBe(m.id);
      expect(Number.isNaN(Date.parse(m.created_at))).toBe(false);
      ids.push(m.id);
    }
    expect(ids).toEqual(ALL_MODELS);
    const page = await anthropic.models.list({ limit: 2 });
    expect(page.data.map((m) => m.id)).toEqual(ALL_MODELS.slice(0, 2));
    expect(page.has_more).toBe(true);
    expect(page.last_id).toBe(ALL_MODELS[1]);
    expect((await anthropic.models.retrieve('gpt-4o-mini')).id).toBe('gpt-4o-mini');
    // A bad key gets Anthropic's error shape.
    const res = await fetch(`${stack.ingressUrl}/v1/models`, { headers: { 'x-api-key': 'sk-wrong', 'anthropic-version': '2023-06-01' } });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { type: string }).type).toBe('error');
  });

  it('@google/genai models.list(): the Gemini list shape', async () => {
    const genai = new GoogleGenAI({ apiKey: stack.apiKey, httpOptions: { baseUrl: stack.ingressUrl } });
    const pager = await genai.models.list();
    const names: string[] = [];
    for await (const m of pager) {
      expect(m.supportedActions ?? (m as { supportedGenerationMethods?: string[] }).supportedGenerationMethods).toEqual(['generateContent', 'streamGenerateContent']);
      expect(m.displayName).toBe(m.name!.replace(/^models\//, ''));
      names.push(m.name!);
    }
    expect(names).toEqual(ALL_MODELS.map((id) => `models/${id}`));
  });

  it('lists only the models the key may use, with the key from x-api-key, x-goog-api-key or ?key=', async () => {
    const created = JSON.parse(await stack.admin(['create-key', '--account', stack.accountId, '--name', 'embed-only', '--models', 'text-embedding-*', '--json'])) as { key: string };
    const anth = await fetch(`${stack.ingressUrl}/v1/models`, { headers: { 'x-api-key': created.key, 'anthropic-version': '2023-06-01' } });
    expect(await anth.json()).toMatchObject({ data: [{ type: 'model', id: 'text-embedding-3-small' }], has_more: false, first_id: 'text-embedding-3-small', last_id: 'text-embedding-3-small' });
    const gem = await fetch(`${stack.ingressUrl}/v1beta/models`, { headers: { 'x-goog-api-key': created.key } });
    expect(await gem.json()).toEqual({
      models: [expect.objectContaining({ name: 'models/text-embedding-3-small', displayName: 'text-embedding-3-small', supportedGenerationMethods: ['generateContent', 'streamGenerateContent'] })],
    });
    const byQuery = await fetch(`${stack.ingressUrl}/v1beta/models?key=${encodeURIComponent(created.key)}`);
    expect(((await byQuery.json()) as { models: unknown[] }).models).toHaveLength(1);
    const noKey = await fetch(`${stack.ingressUrl}/v1beta/models`);
    expect(noKey.status).toBe(401);
    expect(((await noKey.json()) as { error: { code: number; status: string } }).error).toMatchObject({ code: 401, status: 'UNAUTHENTICATED' });
    // The key's model access applies to the new surfaces too.
    const c = new OpenAI({ baseURL: `${stack.ingressUrl}/v1`, apiKey: created.key, maxRetries: 0 });
    await expect(c.completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'x' })).rejects.toMatchObject({ status: 403 });
    expect((await c.embeddings.create({ model: 'text-embedding-3-small', input: 'allowed' })).data).toHaveLength(1);
  });
});
