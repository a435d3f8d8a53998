import { afterEach, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { startFakeOpenAI, type FakeProvider } from './index';
import { embeddingVector } from './openai-legacy.wire';

let fake: FakeProvider;

afterEach(async () => {
  await fake?.close();
});

const client = () => new OpenAI({ baseURL: fake.url, apiKey: 'sk-test', maxRetries: 0 });

describe('fake OpenAI: POST /v1/embeddings', () => {
  it('answers the SDK (base64 by default) with deterministic unit vectors and word-count usage', async () => {
    fake = await startFakeOpenAI();
    const res = await client().embeddings.create({ model: 'text-embedding-3-small', input: ['hello big world', 'hi'] });
    expect(res.object).toBe('list');
    expect(res.model).toBe('text-embedding-3-small');
    expect(res.usage).toEqual({ prompt_tokens: 4, total_tokens: 4 });
    expect(res.data.map((d) => d.index)).toEqual([0, 1]);
    expect(res.data[0]!.embedding).toHaveLength(16);
    expect(res.data[0]!.embedding).toEqual(embeddingVector('hello big world', 16));
    const norm = Math.sqrt(res.data[1]!.embedding.reduce((s, x) => s + x * x, 0));
    expect(norm).toBeCloseTo(1, 5);
    // Same input, same vector; different input, different vector.
    const again = await client().embeddings.create({ model: 'text-embedding-3-small', input: 'hello big world', encoding_format: 'float' });
    expect(again.data[0]!.embedding).toEqual(res.data[0]!.embedding);
    expect(res.data[1]!.embedding).not.toEqual(res.data[0]!.embedding);
  });

  it('honours dimensions, counts token-id inputs, and rejects a missing input', async () => {
    fake = await startFakeOpenAI();
    const res = await client().embeddings.create({ model: 'e', input: [[1, 2, 3]], dimensions: 4 });
    expect(res.data[0]!.embedding).toHaveLength(4);
    expect(res.usage.prompt_tokens).toBe(3);
    const bad = await fetch(`${fake.url}/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'e' }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { param: string } }).error.param).toBe('input');
  });

  it('fails as scripted', async () => {
    fake = await startFakeOpenAI({ behavior: { failStatus: 429 } });
    await expect(client().embeddings.create({ model: 'e', input: 'x' })).rejects.toMatchObject({ status: 429 });
  });
});

describe('fake OpenAI: POST /v1/completions (legacy)', () => {
  it('answers a text_completion with one choice per prompt', async () => {
    fake = await startFakeOpenAI({ behavior: { chunks: 3, chunkText: 'ab ' } });
    const res = await client().completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'Say it twice' });
    expect(res.object).toBe('text_completion');
    expect(res.choices).toEqual([{ text: 'ab ab ab ', index: 0, logprobs: null, finish_reason: 'stop' }]);
    expect(res.usage).toEqual({ prompt_tokens: 3, completion_tokens: 3, total_tokens: 6 });
    const two = await client().completions.create({ model: 'm', prompt: ['one', 'two words'] });
    expect(two.choices.map((c) => c.index)).toEqual([0, 1]);
    expect(two.usage).toEqual({ prompt_tokens: 3, completion_tokens: 6, total_tokens: 9 });
  });

  it('streams text chunks, and the usage chunk only when include_usage is asked', async () => {
    fake = await startFakeOpenAI({ behavior: { chunks: 2, chunkText: 'x ', chunkDelayMs: 1 } });
    const stream = await client().completions.create({ model: 'm', prompt: 'go on', stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined | null;
    let finish: string | null = null;
    for await (const c of stream) {
      expect(c.object).toBe('text_completion');
      text += c.choices[0]?.text ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
      if (c.usage) usage = c.usage;
    }
    expect(text).toBe('x x ');
    expect(finish).toBe('stop');
    expect(usage).toEqual({ prompt_tokens: 2, completion_tokens: 2, total_tokens: 4 });

    const plain = await fetch(`${fake.url}/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', prompt: 'go on', stream: true }),
    });
    const body = await plain.text();
    expect(body).not.toContain('"usage"');
    expect(body.trimEnd().endsWith('data: [DONE]')).toBe(true);
  });
});
