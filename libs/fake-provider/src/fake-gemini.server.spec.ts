import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError, GoogleGenAI, type GenerateContentResponse } from '@google/genai';
import { countGeminiPromptTokens, startFakeGemini, type FakeBehavior, type FakeProvider } from './index';

let fake: FakeProvider;
afterEach(async () => {
  await fake?.close();
});

const CONTENTS = [{ role: 'user', parts: [{ text: 'Say hello world' }] }]; // 3 + 3
const PROMPT = 6;

const ai = (key = 'AIza-test-wxyz'): GoogleGenAI => new GoogleGenAI({ apiKey: key, httpOptions: { baseUrl: fake.url } });
const script = (b: FakeBehavior) => ({ httpOptions: { headers: { 'x-fake-behavior': JSON.stringify(b) } } });

function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${fake.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-goog-api-key': 'k', ...headers }, body: JSON.stringify(body) });
}

describe('countGeminiPromptTokens', () => {
  it('counts 3 per content and system instruction plus the words of text parts', () => {
    expect(countGeminiPromptTokens({ contents: CONTENTS })).toBe(PROMPT);
    expect(countGeminiPromptTokens({ contents: CONTENTS, systemInstruction: { parts: [{ text: 'Be terse.' }] } })).toBe(PROMPT + 5);
    expect(countGeminiPromptTokens({ contents: [] })).toBe(1);
  });
});

describe('fake Gemini with @google/genai as the client', () => {
  beforeEach(async () => {
    fake = await startFakeGemini({ behavior: { chunks: 3, chunkText: 'hi ' } });
  });

  it('answers generateContent with candidates and usageMetadata', async () => {
    const res = await ai().models.generateContent({ model: 'gemini-2.5-flash', contents: CONTENTS, config: { systemInstruction: 'Be terse.' } });
    expect(res.text).toBe('hi hi hi ');
    expect(res.candidates?.[0]?.finishReason).toBe('STOP');
    expect(res.modelVersion).toBe('gemini-2.5-flash');
    expect(res.usageMetadata).toMatchObject({ promptTokenCount: PROMPT + 5, candidatesTokenCount: 3, totalTokenCount: PROMPT + 5 + 3 });
    expect(fake.requests[0]).toMatchObject({ path: '/v1beta/models/gemini-2.5-flash:generateContent', hasAuth: true, keyLast4: 'wxyz' });
    expect(fake.requests[0]!.headers).not.toHaveProperty('x-goog-api-key');
  });

  it('streams SSE chunks (alt=sse); the last one carries finishReason and the full usage', async () => {
    fake.setBehavior({ chunks: 4, chunkText: 'ab', cachedTokens: 2, chunkDelayMs: 2 });
    const chunks: GenerateContentResponse[] = [];
    for await (const c of await ai().models.generateContentStream({ model: 'gemini-2.5-flash', contents: CONTENTS })) chunks.push(c);
    expect(chunks.map((c) => c.text ?? '').join('')).toBe('abababab');
    expect(chunks.at(-1)!.candidates![0]!.finishReason).toBe('STOP');
    expect(chunks.at(-1)!.usageMetadata).toMatchObject({ promptTokenCount: PROMPT, candidatesTokenCount: 4, cachedContentTokenCount: 2, totalTokenCount: PROMPT + 4 });
    expect(chunks[0]!.usageMetadata).toMatchObject({ promptTokenCount: PROMPT });
    expect(fake.requests[0]!.path).toBe('/v1beta/models/gemini-2.5-flash:streamGenerateContent');
  });

  it('streams thought parts and reports thoughtsTokenCount', async () => {
    const chunks: GenerateContentResponse[] = [];
    const stream = await ai().models.generateContentStream({
      model: 'gemini-2.5-flash',
      contents: CONTENTS,
      config: { thinkingConfig: { thinkingBudget: 128, includeThoughts: true }, ...script({ thinkingChunks: 2, reasoningTokens: 4 }) },
    });
    for await (const c of stream) chunks.push(c);
    const parts = chunks.flatMap((c) => c.candidates?.[0]?.content?.parts ?? []);
    expect(parts.filter((p) => p.thought).map((p) => p.text)).toEqual(['think ', 'think ']);
    expect(chunks.at(-1)!.usageMetadata).toMatchObject({ thoughtsTokenCount: 2 + 4, candidatesTokenCount: 3, totalTokenCount: PROMPT + 3 + 6 });
    expect((fake.requests[0]!.body as { generationConfig: unknown }).generationConfig).toEqual({ thinkingConfig: { thinkingBudget: 128, includeThoughts: true } });
  });

  it('returns function calls, streamed and not', async () => {
    const toolCalls = [{ name: 'set_light', arguments: { brightness: 25 } }, { name: 'power', arguments: { on: true } }];
    const res = await ai().models.generateContent({ model: 'gemini-2.5-flash', contents: CONTENTS, config: script({ chunks: 0, toolCalls }) });
    expect(res.functionCalls).toEqual([
      { name: 'set_light', args: { brightness: 25 } },
      { name: 'power', args: { on: true } },
    ]);
    expect(res.usageMetadata?.candidatesTokenCount).toBe(20);
    const calls = [];
    for await (const c of await ai().models.generateContentStream({ model: 'gemini-2.5-flash', contents: CONTENTS, config: script({ chunks: 1, toolCalls }) })) calls.push(...(c.functionCalls ?? []));
    expect(calls.map((c) => c.name)).toEqual(['set_light', 'power']);
  });

  it.each([
    [429, 'RESOURCE_EXHAUSTED'],
    [500, 'INTERNAL'],
    [503, 'UNAVAILABLE'],
    [404, 'NOT_FOUND'],
  ])('a scripted %i reaches the SDK as an ApiError with Gemini’s error body', async (status, grpc) => {
    const err = await ai()
      .models.generateContent({ model: 'gemini-2.5-flash', contents: CONTENTS, config: script({ failStatus: status }) })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(status);
    expect(JSON.parse((err as ApiError).message)).toEqual({ error: { code: status, message: expect.any(String), status: grpc } });
  });

  it('a mid-stream error object fails the SDK stream after the partial text', async () => {
    let text = '';
    const err = await (async () => {
      for await (const c of await ai().models.generateContentStream({ model: 'gemini-2.5-flash', contents: CONTENTS, config: script({ chunks: 5, errorAfterChunks: 2 }) })) text += c.text ?? '';
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(String((err as Error).message)).toContain('overloaded');
    expect(text).toBe('hi hi ');
  });
});

describe('fake Gemini wire details', () => {
  beforeEach(async () => {
    fake = await startFakeGemini({ behavior: { chunks: 2, chunkText: 'x' } });
  });

  it('without alt=sse, streamGenerateContent answers a JSON array of chunks', async () => {
    const res = await post('/v1beta/models/gemini-2.5-flash:streamGenerateContent', { contents: CONTENTS });
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const body = (await res.json()) as Array<{ candidates: Array<{ finishReason?: string }> }>;
    expect(body).toHaveLength(3);
    expect(body.at(-1)!.candidates[0]!.finishReason).toBe('STOP');
  });

  it('takes the key from key= as well, and answers a wrong key as Google does (400 API_KEY_INVALID)', async () => {
    await fake.close();
    fake = await startFakeGemini({ requireApiKey: 'AIza-right' });
    const ok = await fetch(`${fake.url}/v1beta/models/gemini-2.5-flash:generateContent?key=AIza-right`, { method: 'POST', body: JSON.stringify({ contents: CONTENTS }) });
    expect(ok.status).toBe(200);
    const wrong = await post('/v1beta/models/gemini-2.5-flash:generateContent', { contents: CONTENTS }, { 'x-goog-api-key': 'AIza-wrong' });
    expect(wrong.status).toBe(400);
    expect(await wrong.json()).toMatchObject({ error: { code: 400, status: 'INVALID_ARGUMENT', details: [{ reason: 'API_KEY_INVALID' }] } });
  });

  it('refuses a request without contents (400 INVALID_ARGUMENT)', async () => {
    const res = await post('/v1beta/models/gemini-2.5-flash:generateContent', { generationConfig: {} });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { code: 400, message: expect.stringContaining('contents'), status: 'INVALID_ARGUMENT' } });
  });

  it('breaks the connection mid-stream after breakAfterChunks', async () => {
    const res = await post('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse', { contents: CONTENTS }, { 'x-fake-behavior': JSON.stringify({ chunks: 10, breakAfterChunks: 3, chunkDelayMs: 1 }) });
    await expect(res.text()).rejects.toThrow();
    await vi.waitFor(() => expect(fake.stats()).toMatchObject({ broken: 1, inFlight: 0 }));
    expect(fake.requests[0]).toMatchObject({ chunksSent: 3, broken: true });
  });

  it('lists models in Gemini’s shape', async () => {
    const res = await fetch(`${fake.url}/v1beta/models`, { headers: { 'x-goog-api-key': 'k' } });
    const body = (await res.json()) as { models: Array<{ name: string }> };
    expect(body.models[0]).toMatchObject({ name: 'models/gemini-2.5-flash', supportedGenerationMethods: expect.arrayContaining(['generateContent']) });
  });
});
