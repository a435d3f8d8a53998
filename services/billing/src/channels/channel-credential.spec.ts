import { describe, expect, it } from 'vitest';
import { checkChannelSettings, checkOAuthCredential, readOAuthCredential, refreshTokenSha256, rotateRefreshToken, sameDeclaredGrant, type OAuthCredential } from './channel-credential';

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

describe('rotateRefreshToken (compare-and-set of a stored grant)', () => {
  const stored: OAuthCredential = { type: 'oauth', client_id: 'c', client_secret: 's', token_url: 'https://login.example/token', refresh_token: 'rt-0' };

  it('writes the new refresh token only over the one it was rotated from, remembering the operator’s token it descends from', () => {
    const first = rotateRefreshToken(stored, refreshTokenSha256('rt-0'), 'rt-1');
    expect(first).toEqual({ outcome: 'write', grant: { ...stored, refresh_token: 'rt-1', rotated_from_sha256: refreshTokenSha256('rt-0') } });
    if (first.outcome !== 'write') return;
    const second = rotateRefreshToken(first.grant, refreshTokenSha256('rt-1'), 'rt-2');
    expect(second).toMatchObject({ outcome: 'write', grant: { refresh_token: 'rt-2', rotated_from_sha256: refreshTokenSha256('rt-0') } });
  });

  it('refuses a stale write (another replica rotated first) and treats a repeat of the stored one as done', () => {
    const now = { ...stored, refresh_token: 'rt-2' };
    expect(rotateRefreshToken(now, refreshTokenSha256('rt-0'), 'rt-1')).toEqual({ outcome: 'stale' });
    expect(rotateRefreshToken(now, refreshTokenSha256('rt-1'), 'rt-2')).toEqual({ outcome: 'already' });
    expect(rotateRefreshToken(now, 'ab', 'rt-3')).toEqual({ outcome: 'stale' });
  });
});

describe('sameDeclaredGrant', () => {
  const declared = JSON.stringify({ type: 'oauth', client_id: 'c', client_secret: 's', token_url: 'https://login.example/token', refresh_token: 'rt-0' });
  const rotated = JSON.stringify({ type: 'oauth', client_id: 'c', client_secret: 's', token_url: 'https://login.example/token', refresh_token: 'rt-5', rotated_from_sha256: refreshTokenSha256('rt-0') });

  it('a config still naming the refresh token the stored one was rotated from is unchanged', () => {
    expect(sameDeclaredGrant(declared, declared)).toBe(true);
    expect(sameDeclaredGrant(rotated, declared)).toBe(true);
    expect(readOAuthCredential(rotated)).toMatchObject({ refresh_token: 'rt-5', rotated_from_sha256: refreshTokenSha256('rt-0') });
  });

  it('a config naming a new refresh token or another client secret is a change', () => {
    expect(sameDeclaredGrant(rotated, declared.replace('rt-0', 'rt-new'))).toBe(false);
    expect(sameDeclaredGrant(rotated, declared.replace('"s"', '"s2"'))).toBe(false);
    expect(sameDeclaredGrant(declared.replace('rt-0', 'rt-9'), declared)).toBe(false);
  });
});
