import { afterEach, describe, expect, it } from 'vitest';
import { AzureOpenAI } from 'openai';
import { FakeOAuthIssuer, startFakeAnthropic, startFakeOpenAI, type FakeProvider } from './index';

let fake: FakeProvider | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

const origin = (f: FakeProvider) => f.url.replace(/\/v1$/, '');
const MESSAGES = [{ role: 'user' as const, content: 'hello there' }];

describe('fake OpenAI server: Azure OpenAI paths', () => {
  it('serves a deployment to the AzureOpenAI SDK (api-key header, api-version query), streaming and not', async () => {
    fake = await startFakeOpenAI({ requireApiKey: 'az-key', behavior: { chunks: 3, chunkText: 'hi ' } });
    const client = new AzureOpenAI({ endpoint: origin(fake), apiKey: 'az-key', apiVersion: '2024-10-21', deployment: 'prod-4o' });
    const r = await client.chat.completions.create({ model: 'ignored', messages: MESSAGES });
    expect(r.choices[0]!.message.content).toBe('hi hi hi ');
    const rec = fake.requests.at(-1)!;
    expect(rec.path).toBe('/openai/deployments/prod-4o/chat/completions');
    expect(rec.query).toBe('api-version=2024-10-21');
    expect(rec.hasAuth).toBe(true);
    let text = '';
    for await (const c of await client.chat.completions.create({ model: 'ignored', messages: MESSAGES, stream: true })) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe('hi hi hi ');
  });

  it('answers a wrong key with Azure’s 401 and a missing api-version with its 404', async () => {
    fake = await startFakeOpenAI({ requireApiKey: 'az-key' });
    const post = (path: string, headers: Record<string, string>) =>
      fetch(`${origin(fake!)}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ messages: MESSAGES }) });
    const wrong = await post('/openai/deployments/d/chat/completions?api-version=2024-10-21', { 'api-key': 'nope' });
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe('401');
    // A Bearer key is not how Azure keys are sent.
    expect((await post('/openai/deployments/d/chat/completions?api-version=2024-10-21', { authorization: 'Bearer az-key' })).status).toBe(401);
    const noVersion = await post('/openai/deployments/d/chat/completions', { 'api-key': 'az-key' });
    expect(noVersion.status).toBe(404);
    expect(await noVersion.json()).toEqual({ error: { code: '404', message: 'Resource not found' } });
    const emb = await fetch(`${origin(fake)}/openai/deployments/emb/embeddings?api-version=2024-10-21`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'api-key': 'az-key' },
      body: JSON.stringify({ input: 'x' }),
    });
    expect(emb.status).toBe(200);
  });
});

describe('fake OAuth token endpoint', () => {
  const form = (o: Record<string, string>) => new URLSearchParams(o).toString();
  const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

  it('issues short-lived tokens for the refresh-token grant; the upstream accepts only valid ones', async () => {
    let now = 1_000_000;
    const issuer = new FakeOAuthIssuer({ clientId: 'cid', clientSecret: 'cs', refreshToken: 'rt', ttlSeconds: 2, now: () => now });
    fake = await startFakeOpenAI({ oauth: issuer, now: () => now });
    const token = await fetch(`${origin(fake)}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic('cid', 'cs') },
      body: form({ grant_type: 'refresh_token', refresh_token: 'rt' }),
    });
    expect(token.status).toBe(200);
    const t = (await token.json()) as { access_token: string; expires_in: number; token_type: string };
    expect(t).toMatchObject({ token_type: 'Bearer', expires_in: 2 });
    const chat = (bearer: string) =>
      fetch(`${fake!.url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` }, body: JSON.stringify({ model: 'gpt-4o-mini', messages: MESSAGES }) });
    expect((await chat(t.access_token)).status).toBe(200);
    expect((await chat('made-up')).status).toBe(401);
    now += 2_001;
    expect((await chat(t.access_token)).status).toBe(401);
    expect(issuer.tokenRequests).toBe(1);
  });

  it('refuses a bad client (invalid_client), a wrong refresh token (invalid_grant), and honours rotation', async () => {
    const issuer = new FakeOAuthIssuer({ clientId: 'cid', clientSecret: 'cs', refreshToken: 'rt', rotateRefreshToken: true });
    const h = (auth: string) => ({ authorization: auth, 'content-type': 'application/x-www-form-urlencoded' });
    expect(issuer.handle(h(basic('cid', 'wrong')), form({ grant_type: 'refresh_token', refresh_token: 'rt' }))).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    expect(issuer.handle(h(basic('cid', 'cs')), form({ grant_type: 'refresh_token', refresh_token: 'other' }))).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    const ok = issuer.handle(h(basic('cid', 'cs')), form({ grant_type: 'refresh_token', refresh_token: 'rt' }));
    expect(ok.status).toBe(200);
    const rotated = ok.body.refresh_token as string;
    expect(rotated).not.toBe('rt');
    // The old refresh token no longer works; the new one does (client_secret_post this time).
    expect(issuer.handle({ 'content-type': 'application/x-www-form-urlencoded' }, form({ grant_type: 'refresh_token', refresh_token: 'rt', client_id: 'cid', client_secret: 'cs' })).status).toBe(400);
    expect(issuer.handle({ 'content-type': 'application/x-www-form-urlencoded' }, form({ grant_type: 'refresh_token', refresh_token: rotated, client_id: 'cid', client_secret: 'cs' })).status).toBe(200);
  });
});

describe('fake Anthropic: cache writes', () => {
  it('reports cacheWriteTokens as cache_creation_input_tokens, outside input_tokens', async () => {
    fake = await startFakeAnthropic({ behavior: { chunks: 2, cacheWriteTokens: 3 } });
    const res = await fetch(`${origin(fake)}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'k', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 50, messages: [{ role: 'user', content: 'one two three four five six' }] }),
    });
    const body = (await res.json()) as { usage: { input_tokens: number; cache_creation_input_tokens: number } };
    expect(body.usage.cache_creation_input_tokens).toBe(3);
    expect(body.usage.input_tokens).toBeGreaterThanOrEqual(0);
  });
});
