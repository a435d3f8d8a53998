import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { Client } from 'pg';
import { startFakeOpenAI, type FakeProvider } from '@switchyard/fake-provider';
import { clickhouseQuery, startStack, type Stack } from '@switchyard/testkit';
import { until } from '../support/until';

let fast: FakeProvider;
let slow: FakeProvider;
let flaky: FakeProvider;
let stack: Stack;
let pg: Client;

const price = { inputUsdPerMtok: '1', outputUsdPerMtok: '2' };

function client(route?: string) {
  return new OpenAI({
    baseURL: `${stack.ingressUrl}/v1`,
    apiKey: stack.apiKey,
    maxRetries: 0,
    defaultHeaders: route ? { 'x-switchyard-route': route } : {},
  });
}

async function usageRow(requestId: string) {
  return until('usage row', async () => {
    const out = await clickhouseQuery(
      stack.urls.clickhouseUrl,
      `SELECT channel_id, route_mode, attempts, toString(cost_nano) AS cost_nano FROM ${stack.urls.clickhouseDatabase}.usage_events WHERE request_id = '${requestId.replace(/[^0-9a-f-]/g, '')}' FORMAT JSONEachRow`,
    );
    const line = out.split('\n').find(Boolean);
    return line ? (JSON.parse(line) as { channel_id: string; route_mode: string; attempts: string; cost_nano: string }) : undefined;
  });
}

beforeAll(async () => {
  fast = await startFakeOpenAI({ behavior: { latencyMs: 20, chunks: 5, chunkText: 'fast ' } });
  slow = await startFakeOpenAI({ behavior: { latencyMs: 2_000, ttftMs: 0, chunks: 5, chunkText: 'slow ' } });
  flaky = await startFakeOpenAI({ behavior: { failStatus: 500 } });
  stack = await startStack({
    channels: [
      // Plan order for "chat": flaky first, then slow, then fast.
      { id: 'flaky', baseUrl: flaky.url, priority: 1, models: [{ model: 'chat', ...price }, { model: 'down-then-fast', ...price }] },
      { id: 'slow', baseUrl: slow.url, priority: 2, models: [{ model: 'chat', ...price }, { model: 'slow-vs-fast', ...price }] },
      { id: 'fast', baseUrl: fast.url, priority: 3, models: [{ model: 'chat', ...price }, { model: 'slow-vs-fast', ...price }, { model: 'down-then-fast', ...price }] },
    ],
    env: { ingress: { INGRESS_RACE_TIMEOUT_MS: '1500' } },
  });
  pg = new Client({ connectionString: stack.urls.databaseUrl });
  await pg.connect();
});

afterAll(async () => {
  await pg?.end();
  await stack?.stop();
  await Promise.all([fast?.close(), slow?.close(), flaky?.close()]);
});

beforeEach(() => {
  for (const f of [fast, slow, flaky]) f.reset();
});

describe('fallback (plan order, one at a time)', () => {
  it('moves past a failing channel and bills only the one that answered', async () => {
    const { data, response } = await client('fallback')
      .chat.completions.create({ model: 'down-then-fast', messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    expect(data.choices[0]!.message.content).toBe('fast '.repeat(5));
    expect(flaky.stats().received).toBe(1);
    const row = await usageRow(response.headers.get('x-request-id')!);
    expect(row.channel_id).toBe('fast');
    const attempts = JSON.parse(row.attempts) as Array<{ channel_id: string; status: number; error_class: string | null }>;
    expect(attempts.map((a) => [a.channel_id, a.status, a.error_class])).toEqual([
      ['flaky', 500, 'transient'],
      ['fast', 200, null],
    ]);
  });

  it('serves a stream from the second channel when the first fails before its first byte; the client sees one clean stream', async () => {
    const stream = await client('fallback').chat.completions.create({ model: 'down-then-fast', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).toBe('fast '.repeat(5));
  });
});

describe('race (several channels at once)', () => {
  it('answers from the fastest channel, aborts the loser at once, and bills only the winner', async () => {
    const started = Date.now();
    const { data, response } = await client('race')
      .chat.completions.create({ model: 'slow-vs-fast', messages: [{ role: 'user', content: 'race me' }] })
      .withResponse();
    expect(data.choices[0]!.message.content).toBe('fast '.repeat(5));
    expect(Date.now() - started).toBeLessThan(1_500);
    // The slow channel saw the request and then saw it aborted.
    await until('the loser to see the abort', async () => (slow.stats().aborted === 1 ? true : undefined), 3_000);
    const requestId = response.headers.get('x-request-id')!;
    const row = await usageRow(requestId);
    expect(row.channel_id).toBe('fast');
    expect(row.route_mode).toBe('race');
    const attempts = JSON.parse(row.attempts) as Array<{ channel_id: string; error_class: string | null }>;
    expect(attempts.find((a) => a.channel_id === 'slow')?.error_class).toBe('cancelled');
    const ledger = await until('ledger row', async () => {
      const r = await pg.query('SELECT amount_nano::text AS amount, channel_id FROM ledger WHERE request_id = $1', [requestId]);
      return r.rows.length > 0 ? r.rows : undefined;
    });
    expect(ledger).toEqual([{ amount: `-${row.cost_nano}`, channel_id: 'fast' }]);
  });

  it('streams from the first channel with content and aborts the other', async () => {
    const stream = await client('race').chat.completions.create({ model: 'slow-vs-fast', stream: true, messages: [{ role: 'user', content: 'race me' }] });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).toBe('fast '.repeat(5));
    await until('the loser to see the abort', async () => (slow.stats().aborted === 1 ? true : undefined), 3_000);
  });

  it('answers 503 naming each attempt when every raced channel fails', async () => {
    flaky.setBehavior({ failStatus: 503 });
    fast.setBehavior({ failStatus: 500 });
    try {
      const r = await fetch(`${stack.ingressUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.apiKey}`, 'x-switchyard-route': 'race' },
        body: JSON.stringify({ model: 'down-then-fast', messages: [{ role: 'user', content: 'x' }] }),
      });
      expect(r.status).toBe(503);
      const body = (await r.json()) as { error: { message: string; code: string } };
      expect(body.error.code).toBe('all_channels_failed');
      expect(body.error.message).toContain('flaky: transient (503)');
      expect(body.error.message).toContain('fast: transient (500)');
    } finally {
      flaky.setBehavior({ failStatus: 500 });
      fast.setBehavior({ latencyMs: 20, chunks: 5, chunkText: 'fast ' });
    }
  });

  it('answers 504 when no raced channel answers in time, and aborts them all', async () => {
    slow.setBehavior({ hang: true });
    fast.setBehavior({ hang: true });
    try {
      const r = await fetch(`${stack.ingressUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.apiKey}`, 'x-switchyard-route': 'race' },
        body: JSON.stringify({ model: 'slow-vs-fast', messages: [{ role: 'user', content: 'x' }] }),
      });
      expect(r.status).toBe(504);
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe('timeout_race');
      await until('both hung channels to see the abort', async () => (slow.stats().aborted + fast.stats().aborted === 2 ? true : undefined), 3_000);
    } finally {
      slow.setBehavior({ latencyMs: 2_000, chunks: 5, chunkText: 'slow ' });
      fast.setBehavior({ latencyMs: 20, chunks: 5, chunkText: 'fast ' });
    }
  });

  it('refuses an unknown routing mode with a 400', async () => {
    const r = await fetch(`${stack.ingressUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.apiKey}`, 'x-switchyard-route': 'teleport' },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(r.status).toBe(400);
    const body = (await r.json()) as { error: { param: string; code: string; message: string } };
    expect(body.error.code).toBe('invalid_route');
    expect(body.error.message).toContain('teleport');
  });
});
