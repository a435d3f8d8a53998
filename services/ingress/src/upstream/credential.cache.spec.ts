import { describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { CHANNEL_OAUTH_ROTATED_SUBJECT, refreshTokenSha256, type ChannelCredentialReply, type OAuthRotatedRequest } from '@switchyard/contracts';
import { GatewayError } from '../errors/gateway-error';
import { CredentialCache } from './credential.cache';
import type { TokenHttpRequest, TokenHttpResponse } from './oauth-token.source';

const GRANT = { client_id: 'cid', client_secret: 'cs-secret-1', token_url: 'https://auth.example/token', refresh_token: 'rt-secret-1' };

/**
 * Billing's credential responder, answering from a mutable table, and its
 * rotation responder (compare-and-set on the table's refresh token).
 */
function billing(replies: Record<string, Omit<ChannelCredentialReply, 'channel_id'>>) {
  let calls = 0;
  const rotations: OAuthRotatedRequest[] = [];
  const nc = {
    request: async (subject: string, data: string) => {
      if (subject === CHANNEL_OAUTH_ROTATED_SUBJECT) {
        const req = JSON.parse(data) as OAuthRotatedRequest;
        rotations.push(req);
        const grant = replies[req.channel_id]?.oauth;
        const outcome = !grant ? 'not_found' : refreshTokenSha256(grant.refresh_token) === req.expected_refresh_token_sha256 ? 'stored' : 'stale';
        if (grant && outcome === 'stored') grant.refresh_token = req.refresh_token;
        return { json: () => ({ channel_id: req.channel_id, outcome }) };
      }
      calls++;
      const { channel_id } = JSON.parse(data) as { channel_id: string };
      const r = replies[channel_id] ?? { found: false, api_key: null };
      return { json: () => ({ channel_id, ...structuredClone(r) }) };
    },
  } as unknown as NatsConnection;
  return { nc, calls: () => calls, rotations };
}

function tokenEndpoint(status = 200) {
  const calls: TokenHttpRequest[] = [];
  let n = 0;
  const post = async (req: TokenHttpRequest): Promise<TokenHttpResponse> => {
    calls.push(req);
    return status === 200
      ? { status, body: JSON.stringify({ access_token: `at-${++n}`, expires_in: 3600 }) }
      : { status, body: JSON.stringify({ error: 'invalid_client', error_description: 'bad secret cs-secret-1' }) };
  };
  return { post, calls };
}

/** A token endpoint that rotates the refresh token on every use and refuses any but the latest (`rt-N`). */
function rotatingEndpoint(first = 'rt-secret-1') {
  const calls: TokenHttpRequest[] = [];
  let current = first;
  let n = 0;
  const post = async (req: TokenHttpRequest): Promise<TokenHttpResponse> => {
    calls.push(req);
    if (new URLSearchParams(req.body).get('refresh_token') !== current) return { status: 400, body: JSON.stringify({ error: 'invalid_grant' }) };
    n++;
    current = `rt-rotated-${n}`;
    return { status: 200, body: JSON.stringify({ access_token: `at-${n}`, expires_in: 3600, refresh_token: current }) };
  };
  return { post, calls, presented: () => calls.map((c) => new URLSearchParams(c.body).get('refresh_token')) };
}

describe('CredentialCache', () => {
  it('a static key goes in the provider’s key header, with the channel’s api-version', async () => {
    const b = billing({ az: { found: true, api_key: 'az-key', settings: { api_version: '2024-10-21' } }, none: { found: false, api_key: null } });
    const cache = new CredentialCache(b.nc, { timeoutMs: 1000, tokenPost: tokenEndpoint().post });
    expect(await cache.access('az')).toEqual({ token: 'az-key', scheme: 'key', apiVersion: '2024-10-21' });
    expect(await cache.access('none')).toEqual({ token: null, scheme: 'key', apiVersion: undefined });
    expect(await cache.get('az')).toBe('az-key');
    expect(b.calls()).toBe(2);
  });

  it('an OAuth channel gets a Bearer access token, kept across plan changes while billing’s grant is unchanged', async () => {
    const replies = { o: { found: true, api_key: null, oauth: { ...GRANT } } };
    const b = billing(replies);
    const ep = tokenEndpoint();
    const cache = new CredentialCache(b.nc, { timeoutMs: 1000, tokenPost: ep.post });
    expect(await cache.access('o')).toEqual({ token: 'at-1', scheme: 'bearer', apiVersion: undefined });
    cache.invalidate(); // a new plan: billing is asked again, the token is kept
    expect((await cache.access('o')).token).toBe('at-1');
    expect(b.calls()).toBe(2);
    expect(ep.calls).toHaveLength(1);
    // The operator stored a new client secret: a new token source.
    replies.o.oauth.client_secret = 'cs-secret-2';
    cache.invalidate();
    expect((await cache.access('o')).token).toBe('at-2');
    expect(ep.calls).toHaveLength(2);
  });

  it('authenticates the client in the form when the grant says client_auth "post"', async () => {
    const ep = tokenEndpoint();
    const cache = new CredentialCache(billing({ o: { found: true, api_key: null, oauth: { ...GRANT, client_auth: 'post' } } }).nc, { timeoutMs: 1000, tokenPost: ep.post });
    await cache.access('o');
    expect(new URLSearchParams(ep.calls[0]!.body).get('client_secret')).toBe('cs-secret-1');
    expect(ep.calls[0]!.headers).not.toHaveProperty('authorization');
  });

  it('a token the upstream refused is dropped: the next request refreshes', async () => {
    const ep = tokenEndpoint();
    const cache = new CredentialCache(billing({ o: { found: true, api_key: null, oauth: GRANT } }).nc, { timeoutMs: 1000, tokenPost: ep.post });
    const first = await cache.access('o');
    cache.rejecter('o', first)!();
    expect((await cache.access('o')).token).toBe('at-2');
    expect(cache.rejecter('o', { token: 'k', scheme: 'key', apiVersion: undefined })).toBeUndefined();
  });

  it('a refused refresh is an auth error of the channel (it is taken out), naming no secret', async () => {
    const cache = new CredentialCache(billing({ o: { found: true, api_key: null, oauth: GRANT } }).nc, { timeoutMs: 1000, tokenPost: tokenEndpoint(401).post });
    const err = (await cache.access('o').catch((e: unknown) => e)) as GatewayError;
    expect(err).toBeInstanceOf(GatewayError);
    expect(err).toMatchObject({ errorClass: 'auth', retryable: true, channelId: 'o', upstreamStatus: 401 });
    const shown = JSON.stringify({ message: err.message, cause: (err.cause as Error).message });
    for (const s of ['cs-secret-1', 'rt-secret-1']) expect(shown).not.toContain(s);
  });

  it('an unreachable token endpoint is transient (connect), not an auth failure', async () => {
    const cache = new CredentialCache(billing({ o: { found: true, api_key: null, oauth: GRANT } }).nc, {
      timeoutMs: 1000,
      tokenPost: () => Promise.reject(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })),
    });
    await expect(cache.access('o')).rejects.toMatchObject({ errorClass: 'connect', retryable: true });
  });

  it('hands a rotated refresh token to billing (compare-and-set over the one refreshed from); a restarted ingress refreshes with it', async () => {
    const replies = { o: { found: true, api_key: null, oauth: { ...GRANT } } };
    const b = billing(replies);
    const ep = rotatingEndpoint();
    const first = new CredentialCache(b.nc, { timeoutMs: 1000, tokenPost: ep.post });
    expect((await first.access('o')).token).toBe('at-1');
    await first.rotationsSettled();
    expect(b.rotations).toEqual([{ channel_id: 'o', expected_refresh_token_sha256: refreshTokenSha256('rt-secret-1'), refresh_token: 'rt-rotated-1' }]);
    expect(replies.o.oauth.refresh_token).toBe('rt-rotated-1');
    const restarted = new CredentialCache(b.nc, { timeoutMs: 1000, tokenPost: ep.post });
    expect((await restarted.access('o')).token).toBe('at-2');
    expect(ep.presented()).toEqual(['rt-secret-1', 'rt-rotated-1']);
  });

  it('a replica told of another’s rotation keeps its valid access token and refreshes with the new refresh token', async () => {
    const replies = { o: { found: true, api_key: null, oauth: { ...GRANT } } };
    const b = billing(replies);
    const ep = rotatingEndpoint();
    const clock = { t: 0 };
    const replica = new CredentialCache(b.nc, { timeoutMs: 1000, tokenPost: ep.post, now: () => clock.t });
    const other = new CredentialCache(b.nc, { timeoutMs: 1000, tokenPost: ep.post, now: () => clock.t });
    expect((await replica.access('o')).token).toBe('at-1');
    await replica.rotationsSettled();
    expect((await other.access('o')).token).toBe('at-2');
    await other.rotationsSettled();
    replica.forget('o'); // billing's notice
    expect((await replica.access('o')).token).toBe('at-1');
    expect(ep.calls).toHaveLength(2);
    clock.t += 3_600_000;
    expect((await replica.access('o')).token).toBe('at-3');
    expect(ep.presented()).toEqual(['rt-secret-1', 'rt-rotated-1', 'rt-rotated-2']);
  });

  it('a refresh refused because another replica rotated a moment ago (no notice yet) asks billing once and refreshes with its token', async () => {
    const replies = { o: { found: true, api_key: null, oauth: { ...GRANT } } };
    const b = billing(replies);
    const ep = rotatingEndpoint();
    const clock = { t: 0 };
    const replica = new CredentialCache(b.nc, { timeoutMs: 1000, tokenPost: ep.post, now: () => clock.t });
    const other = new CredentialCache(b.nc, { timeoutMs: 1000, tokenPost: ep.post, now: () => clock.t });
    await replica.access('o');
    await replica.rotationsSettled();
    await other.access('o');
    await other.rotationsSettled();
    clock.t += 3_600_000;
    expect((await replica.access('o')).token).toBe('at-3');
    expect(ep.presented()).toEqual(['rt-secret-1', 'rt-rotated-1', 'rt-rotated-1', 'rt-rotated-2']);
  });
});
