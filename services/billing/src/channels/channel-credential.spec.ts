import { describe, expect, it } from 'vitest';
import { checkChannelSettings, checkOAuthCredential, readOAuthCredential } from './channel-credential';

describe('checkChannelSettings', () => {
  it('requires a well-formed api-version on azure-openai channels and refuses it elsewhere', () => {
    expect(checkChannelSettings('azure-openai', { api_version: ' 2024-10-21 ' })).toEqual({ ok: true, value: { api_version: '2024-10-21' } });
    expect(checkChannelSettings('azure-openai', { api_version: '2025-01-01-preview' })).toEqual({ ok: true, value: { api_version: '2025-01-01-preview' } });
    expect(checkChannelSettings('azure-openai', {})).toMatchObject({ ok: false, reason: expect.stringMatching(/needs --api-version/) });
    expect(checkChannelSettings('azure-openai', { api_version: 'v1' })).toMatchObject({ ok: false });
    expect(checkChannelSettings('openai', { api_version: '2024-10-21' })).toMatchObject({ ok: false, reason: expect.stringMatching(/azure-openai channels only/) });
    expect(checkChannelSettings('anthropic', {})).toEqual({ ok: true, value: {} });
  });
});

describe('checkOAuthCredential', () => {
  const grant = { type: 'oauth', client_id: 'c', client_secret: 's', token_url: 'https://login.example/oauth2/token', refresh_token: 'r' };

  it('accepts a complete grant (type optional, scope optional) and round-trips through storage', () => {
    const r = checkOAuthCredential({ ...grant, scope: 'https://cognitiveservices.azure.com/.default' });
    expect(r).toMatchObject({ ok: true, value: { type: 'oauth', client_id: 'c', scope: 'https://cognitiveservices.azure.com/.default' } });
    expect(checkOAuthCredential({ ...grant, type: undefined }).ok).toBe(true);
    if (r.ok) expect(readOAuthCredential(JSON.stringify(r.value))).toEqual(r.value);
  });

  it('names the missing or bad field, never a value', () => {
    const missing = checkOAuthCredential({ type: 'oauth', client_id: 'c', token_url: 'https://x/t', refresh_token: 'secret-r' });
    expect(missing).toEqual({ ok: false, reason: 'the oauth credential needs client_secret' });
    expect(checkOAuthCredential({ ...grant, token_url: 'ftp://x/t' })).toMatchObject({ ok: false, reason: expect.stringMatching(/token_url/) });
    expect(checkOAuthCredential({ ...grant, type: 'api_key' })).toMatchObject({ ok: false });
    expect(checkOAuthCredential({ ...grant, client_auth: 'jwt' })).toMatchObject({ ok: false, reason: expect.stringMatching(/client_auth/) });
    expect(checkOAuthCredential({ ...grant, client_auth: 'post' })).toMatchObject({ ok: true, value: { client_auth: 'post' } });
    expect(checkOAuthCredential('secret-string')).toMatchObject({ ok: false, reason: 'the oauth credential must be an object' });
    expect(readOAuthCredential('not json')).toBeNull();
  });
});
