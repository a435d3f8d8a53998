import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { Client } from 'pg';
import { startFakeOpenAI, type FakeProvider } from '@switchyard/fake-provider';
import { clickhouseQuery, freePort, startOtlpReceiver, startStack, type OtlpReceiver, type Stack } from '@switchyard/testkit';
import { until } from '../support/until';

// Prices of the test channel, per 1M tokens: $0.15 in, $0.60 out.
const IN_NANO_PER_MTOK = 150_000_000n;
const OUT_NANO_PER_MTOK = 600_000_000n;
const expectedCost = (input: number, output: number) => {
  const scaled = BigInt(input) * IN_NANO_PER_MTOK + BigInt(output) * OUT_NANO_PER_MTOK;
  return (scaled + 500_000n) / 1_000_000n;
};

let fast: FakeProvider;
let hanging: FakeProvider;
/** Streams its first content, then pauses longer than the ingress's idle timeout. */
let stalling: FakeProvider;
/** Sends headers, then nothing for longer than the ingress's first-token timeout. */
let tardy: FakeProvider;
let otlp: OtlpReceiver;
let stack: Stack;
let client: OpenAI;
let pg: Client;

interface UsageRow {
  request_id: string;
  trace_id: string;
  input_tokens: number;
  output_tokens: number;
  cost_nano: string;
  channel_id: string;
  stream: number;
}

async function clickhouseRows(requestId: string): Promise<UsageRow[]> {
  const db = stack.urls.clickhouseDatabase;
  const out = await clickhouseQuery(
    stack.urls.clickhouseUrl,
    `SELECT request_id, trace_id, input_tokens, output_tokens, toString(cost_nano) AS cost_nano, channel_id, stream FROM ${db}.usage_events WHERE request_id = '${requestId.replace(/[^0-9a-f-]/g, '')}' FORMAT JSONEachRow`,
  );
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as UsageRow);
}

async function ledgerRows(requestId: string) {
  const r = await pg.query<{ amount_nano: string; trace_id: string | null; account_id: string }>(
    'SELECT amount_nano::text AS amount_nano, trace_id, account_id FROM ledger WHERE request_id = $1',
    [requestId],
  );
  return r.rows;
}

async function balanceNano(): Promise<bigint> {
  const r = await pg.query<{ b: string }>('SELECT balance_nano::text AS b FROM balances WHERE account_id = $1', [stack.accountId]);
  return BigInt(r.rows[0]!.b);
}

beforeAll(async () => {
  fast = await startFakeOpenAI({ behavior: { chunks: 8, chunkText: 'hello ' }, requireApiKey: 'upstream-secret' });
  hanging = await startFakeOpenAI({ behavior: { hang: true } });
  stalling = await startFakeOpenAI({ behavior: { chunks: 3, chunkText: 'a', chunkDelayMs: 5_000 } });
  tardy = await startFakeOpenAI({ behavior: { chunks: 3, ttftMs: 5_000 } });
  otlp = await startOtlpReceiver();
  const deadPort = await freePort();
  const telemetryEnv = { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '200' };
  stack = await startStack({
    channels: [
      { id: 'fast', baseUrl: fast.url, apiKey: 'upstream-secret', models: [{ model: 'gpt-4o-mini', inputUsdPerMtok: '0.15', outputUsdPerMtok: '0.60' }] },
      { id: 'dead', baseUrl: `http://127.0.0.1:${deadPort}/v1`, models: [{ model: 'dead-model', inputUsdPerMtok: '1', outputUsdPerMtok: '1' }] },
      { id: 'slow', baseUrl: hanging.url, models: [{ model: 'slow-model', inputUsdPerMtok: '1', outputUsdPerMtok: '1' }] },
      { id: 'stalling', baseUrl: stalling.url, models: [{ model: 'stalling-model', inputUsdPerMtok: '1', outputUsdPerMtok: '1' }] },
      { id: 'tardy', baseUrl: tardy.url, models: [{ model: 'tardy-model', inputUsdPerMtok: '1', outputUsdPerMtok: '1' }] },
    ],
    env: {
      ingress: { ...telemetryEnv, INGRESS_HEADERS_TIMEOUT_MS: '1000', INGRESS_IDLE_TIMEOUT_MS: '1000', INGRESS_FIRST_TOKEN_TIMEOUT_MS: '1000', INGRESS_BODY_LIMIT_BYTES: String(64 * 1024) },
      stats: { ...telemetryEnv, STATS_BATCH_WAIT_MS: '1000' },
      billing: telemetryEnv,
      router: telemetryEnv,
    },
  });
  client = new OpenAI({ baseURL: `${stack.ingressUrl}/v1`, apiKey: stack.apiKey, maxRetries: 0 });
  pg = new Client({ connectionString: stack.urls.databaseUrl });
  await pg.connect();
});

afterAll(async () => {
  await pg?.end();
  await stack?.stop();
  await fast?.close();
  await hanging?.close();
  await stalling?.close();
  await tardy?.close();
  await otlp?.close();
});

describe('one request through all four services', () => {
  it('answers a non-streaming chat completion and books it once in ClickHouse and the ledger, under one trace', async () => {
    const before = await balanceNano();
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello to the gateway' }] })
      .withResponse();
    expect(data.choices[0]!.message.content).toBe('hello '.repeat(8));
    const requestId = response.headers.get('x-request-id')!;
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    const usage = data.usage!;
    expect(usage.completion_tokens).toBe(8);

    const rows = await until('the ClickHouse row', async () => {
      const r = await clickhouseRows(requestId);
      return r.length > 0 ? r : undefined;
    });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ input_tokens: usage.prompt_tokens, output_tokens: usage.completion_tokens, channel_id: 'fast', stream: 0 });
    const cost = expectedCost(usage.prompt_tokens, usage.completion_tokens);
    expect(BigInt(rows[0]!.cost_nano)).toBe(cost);

    const ledger = await until('the ledger row', async () => {
      const r = await ledgerRows(requestId);
      return r.length > 0 ? r : undefined;
    });
    expect(ledger).toHaveLength(1);
    expect(BigInt(ledger[0]!.amount_nano)).toBe(-cost);
    expect(before - (await balanceNano())).toBe(cost);

    const traceId = rows[0]!.trace_id;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(ledger[0]!.trace_id).toBe(traceId);
    // The exported spans: ingress request and upstream attempt, then the stats
    // and billing consumer spans, all in that one trace.
    const services = await until('spans from every service', async () => {
      const s = new Set(otlp.spans.filter((sp) => sp.traceId === traceId).map((sp) => sp.service));
      return s.has('ingress') && s.has('stats') && s.has('billing') ? s : undefined;
    });
    expect([...services].sort()).toEqual(['billing', 'ingress', 'stats']);
    const inTrace = otlp.spans.filter((sp) => sp.traceId === traceId);
    expect(inTrace.filter((sp) => sp.service === 'ingress').length).toBeGreaterThanOrEqual(2);
  });

  it('traces one request from ingress through the bus into ClickHouse and Postgres, without values', async () => {
    const { response } = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'trace this prompt please' }] })
      .withResponse();
    const requestId = response.headers.get('x-request-id')!;
    const rows = await until('the ClickHouse row', async () => {
      const r = await clickhouseRows(requestId);
      return r.length > 0 ? r : undefined;
    });
    const traceId = rows[0]!.trace_id;
    const spanIn = (pick: (sp: (typeof otlp.spans)[number]) => boolean) => otlp.spans.find((sp) => sp.traceId === traceId && pick(sp));
    const childOf = (parent: { spanId: string }, pick: (sp: (typeof otlp.spans)[number]) => boolean) =>
      spanIn((sp) => sp.parentSpanId === parent.spanId && pick(sp));
    // Exports are batched per service: wait for the deepest spans of each branch.
    await until('the Postgres and ClickHouse spans', async () => {
      const t = otlp.spans.filter((sp) => sp.traceId === traceId);
      return t.some((sp) => sp.attributes['db.system'] === 'postgresql') && t.some((sp) => sp.attributes['db.system'] === 'clickhouse') ? t : undefined;
    });

    const ingress = spanIn((sp) => sp.service === 'ingress' && sp.name === 'POST /v1/chat/completions')!;
    expect(ingress).toBeDefined();
    expect(ingress.parentSpanId).toBe('');
    expect(childOf(ingress, (sp) => sp.name === 'upstream attempt')?.attributes['switchyard.channel_id']).toBe('fast');
    const publish = childOf(ingress, (sp) => sp.name === 'usage publish')!;
    expect(publish.service).toBe('ingress');
    expect(publish.attributes).toMatchObject({ 'messaging.system': 'nats', 'messaging.message.id': requestId });

    // stats: consumer span under the publish, its batch, the ClickHouse insert (table, rows; no statement).
    const store = childOf(publish, (sp) => sp.name === 'stats.store')!;
    expect(store.service).toBe('stats');
    const storeBatch = childOf(store, (sp) => sp.name === 'stats.store_batch')!;
    const insert = childOf(storeBatch, (sp) => sp.attributes['db.operation'] === 'INSERT')!;
    expect(insert.attributes).toMatchObject({ 'db.system': 'clickhouse', 'db.sql.table': 'usage_events' });
    expect(Number(insert.attributes['db.clickhouse.rows'])).toBe(1); // OTLP/JSON sends ints as strings

    // billing: consumer span under the publish, its batch, the transaction's Postgres queries.
    const settle = childOf(publish, (sp) => sp.name === 'billing.settle')!;
    expect(settle.service).toBe('billing');
    const settleBatch = childOf(settle, (sp) => sp.name === 'billing.settle_batch')!;
    const pgSpans = otlp.spans.filter((sp) => sp.parentSpanId === settleBatch.spanId && sp.attributes['db.system'] === 'postgresql');
    const operations = new Set(pgSpans.map((sp) => sp.attributes['db.operation']));
    expect(operations).toContain('INSERT');
    for (const sp of pgSpans) expect(sp.attributes['db.name']).toBe(new URL(stack.urls.databaseUrl).pathname.slice(1));
    // Parameterized statements only: no parameter values, no request id, no key, no prompt.
    const dbSpans = JSON.stringify(otlp.spans.filter((sp) => sp.traceId === traceId && sp.attributes['db.system'] !== undefined));
    expect(dbSpans).not.toContain('db.postgresql.values');
    for (const value of [requestId, stack.apiKey, 'trace this prompt please', stack.accountId]) expect(dbSpans).not.toContain(value);
  });

  it('streams a chat completion intact and books it once with the upstream usage', async () => {
    const before = await balanceNano();
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'Stream something' }] })
      .withResponse();
    let text = '';
    let sawUsageChunk = false;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) sawUsageChunk = true;
    }
    expect(text).toBe('hello '.repeat(8));
    // The client did not ask for usage: the chunk Switchyard requested for its books is not shown.
    expect(sawUsageChunk).toBe(false);
    const requestId = response.headers.get('x-request-id')!;
    const rows = await until('the ClickHouse row', async () => {
      const r = await clickhouseRows(requestId);
      return r.length > 0 ? r : undefined;
    });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ output_tokens: 8, stream: 1 });
    const cost = expectedCost(rows[0]!.input_tokens, 8);
    const ledger = await until('the ledger row', async () => {
      const r = await ledgerRows(requestId);
      return r.length > 0 ? r : undefined;
    });
    expect(ledger).toHaveLength(1);
    expect(BigInt(ledger[0]!.amount_nano)).toBe(-cost);
    expect(before - (await balanceNano())).toBe(cost);
    expect(ledger[0]!.trace_id).toBe(rows[0]!.trace_id);
  });

  it('passes the usage chunk through when the client asks for it', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'Count' }],
    });
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
    expect(usage?.completion_tokens).toBe(8);
  });

  it('lists the served models without channel prefixes', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id).sort()).toEqual(['dead-model', 'gpt-4o-mini', 'slow-model', 'stalling-model', 'tardy-model']);
  });

  it('keeps serving from the last plan while the router is down, even after an ingress restart', async () => {
    await stack.services.router.kill();
    try {
      const first = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'router is down' }] });
      expect(first.choices[0]!.message.content).toBe('hello '.repeat(8));
      await stack.services.ingress.stop();
      await stack.services.ingress.start();
      const again = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'still down' }] });
      expect(again.choices[0]!.message.content).toBe('hello '.repeat(8));
    } finally {
      await stack.services.router.start();
    }
  });

  it('loses nothing when billing and stats are killed and restarted', async () => {
    await stack.services.billing.kill();
    await stack.services.stats.kill();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { response } = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `n ${i}` }] }).withResponse();
      ids.push(response.headers.get('x-request-id')!);
    }
    await stack.services.billing.start();
    await stack.services.stats.start();
    for (const id of ids) {
      const ledger = await until(`ledger row ${id}`, async () => {
        const r = await ledgerRows(id);
        return r.length > 0 ? r : undefined;
      });
      expect(ledger).toHaveLength(1);
      const rows = await until(`ClickHouse row ${id}`, async () => {
        const r = await clickhouseRows(id);
        return r.length > 0 ? r : undefined;
      });
      expect(rows).toHaveLength(1);
    }
  });
});

describe('bad input gets an OpenAI-style error with a request id', () => {
  async function post(body: string, headers: Record<string, string> = {}) {
    const r = await fetch(`${stack.ingressUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.apiKey}`, ...headers },
      body,
    });
    const json = (await r.json()) as { error: { message: string; type: string; code: string | null } };
    expect(r.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(typeof json.error.message).toBe('string');
    expect(typeof json.error.type).toBe('string');
    expect(json.error).toHaveProperty('code');
    return { status: r.status, error: json.error };
  }
  const chat = (model: string) => JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] });

  it('malformed JSON → 400', async () => {
    const r = await post('{"model": "gpt-4o-mini", "messages": [');
    expect(r.status).toBe(400);
    expect(r.error.type).toBe('invalid_request_error');
  });

  it('missing key → 401', async () => {
    const r = await post(chat('gpt-4o-mini'), { authorization: '' });
    expect(r.status).toBe(401);
  });

  it('wrong key → 401, and the SDK sees an AuthenticationError', async () => {
    const r = await post(chat('gpt-4o-mini'), { authorization: 'Bearer sk-sy-not-a-real-key' });
    expect(r.status).toBe(401);
    expect(r.error.code).toBe('invalid_api_key');
    const bad = new OpenAI({ baseURL: `${stack.ingressUrl}/v1`, apiKey: 'sk-sy-wrong', maxRetries: 0 });
    await expect(bad.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] })).rejects.toBeInstanceOf(
      OpenAI.AuthenticationError,
    );
  });

  it('unknown model → 404', async () => {
    const r = await post(chat('no-such-model'));
    expect(r.status).toBe(404);
    expect(r.error.code).toBe('model_not_found');
  });

  it('body over the configured limit → 413', async () => {
    const r = await post(JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x'.repeat(100 * 1024) }] }));
    expect(r.status).toBe(413);
  });

  it('upstream unreachable → 502', async () => {
    const r = await post(chat('dead-model'));
    expect(r.status).toBe(502);
  });

  it('upstream hanging past the timeout → 504', async () => {
    const started = Date.now();
    const r = await post(chat('slow-model'));
    expect(r.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(r.error.code).toBe('timeout_headers');
  });

  it('a stream whose upstream sends no first token in time → 504', async () => {
    const started = Date.now();
    const r = await post(JSON.stringify({ model: 'tardy-model', stream: true, messages: [{ role: 'user', content: 'hi' }] }));
    expect(r.status).toBe(504);
    expect(r.error.code).toBe('timeout_first_token');
    expect(Date.now() - started).toBeLessThan(3_500);
  });

  it('a stream whose upstream goes quiet mid-way ends with an idle-timeout error event after what it had sent', async () => {
    const started = Date.now();
    const r = await fetch(`${stack.ingressUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.apiKey}` },
      body: JSON.stringify({ model: 'stalling-model', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(r.status).toBe(200);
    const events = (await r.text()).split('\n\n').filter(Boolean);
    expect(Date.now() - started).toBeLessThan(3_500);
    expect(JSON.parse(events[1]!.slice('data: '.length))).toMatchObject({ choices: [{ delta: { content: 'a' } }] });
    expect(JSON.parse(events[events.length - 1]!.slice('data: '.length))).toMatchObject({ error: { code: 'timeout_idle' } });
  });
});

describe('metrics', () => {
  /** Sum of a metric's samples whose labels contain every given `key="value"`. */
  async function metric(name: string, labels: string[] = []): Promise<number> {
    const text = await (await fetch(`${stack.ingressUrl}/metrics`)).text();
    let sum = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
      if (labels.every((l) => line.includes(l))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return sum;
  }

  it('/metrics moves by N after N requests, streams included, and nothing stays in flight', async () => {
    const route = 'route="/v1/chat/completions"';
    const before = await metric('switchyard_http_requests_total', [route]);
    const upstreamBefore = await metric('switchyard_upstream_requests_total', ['channel="fast"']);
    for (let i = 0; i < 3; i++) await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'count' }] });
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'count' }] });
    for await (const _ of stream) void _;
    await new Promise((r) => setTimeout(r, 100));
    expect((await metric('switchyard_http_requests_total', [route])) - before).toBe(4);
    expect((await metric('switchyard_upstream_requests_total', ['channel="fast"'])) - upstreamBefore).toBe(4);
    expect(await metric('switchyard_http_requests_in_flight', ['method="POST"'])).toBe(0);
    expect(await metric('switchyard_key_cache_lookups_total', ['result="hit"'])).toBeGreaterThan(0);
  });

  it('billing /metrics counts settled events', async () => {
    const text = await until('settlements on billing /metrics', async () => {
      const t = await (await fetch(`${stack.services.billing.url}/metrics`)).text();
      return /switchyard_ledger_settlements_total\{[^}]*outcome="settled"[^}]*\} [1-9]/.test(t) ? t : undefined;
    });
    expect(text).toContain('switchyard_ledger_settle_duration_seconds');
  });
});

describe('secrets', () => {
  it('never appear in service logs or exported spans', () => {
    const logs = Object.values(stack.services)
      .map((s) => s.logs())
      .join('\n');
    const spans = JSON.stringify(otlp.spans);
    for (const secret of [stack.apiKey, 'upstream-secret']) {
      expect(logs).not.toContain(secret);
      expect(spans).not.toContain(secret);
    }
  });
});

describe('revocation', () => {
  it('a revoked key stops working at the ingress within a second', async () => {
    const created = JSON.parse(await stack.admin(['create-key', '--account', stack.accountId, '--name', 'short-lived', '--json'])) as { id: string; key: string };
    const c = new OpenAI({ baseURL: `${stack.ingressUrl}/v1`, apiKey: created.key, maxRetries: 0 });
    await c.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'cache me' }] });
    await stack.admin(['revoke-key', '--id', created.id]);
    const revokedAt = Date.now();
    let status = 200;
    while (Date.now() - revokedAt < 1000 && status !== 401) {
      const r = await fetch(`${stack.ingressUrl}/v1/models`, { headers: { authorization: `Bearer ${created.key}` } });
      status = r.status;
      await r.arrayBuffer();
    }
    expect(status).toBe(401);
  });
});
