import { describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import type { ChannelCredentialReply } from '@switchyard/contracts';
import { GatewayError } from '../errors/gateway-error';
import { CredentialCache } from './credential.cache';
import type { TokenHttpRequest, TokenHttpResponse } from './oauth-token.source';

const GRANT = { client_id: 'cid', client_secret: 'cs-secret-1', token_url: 'https://auth.example/token', refresh_token: 'rt-secret-1' };

/** Billing's credential responder, answering from a mutable table. */
function billing(replies: Record<string, Omit<ChannelCredentialReply, 'channel_id'>>) {
  let calls = 0;
  const nc = {
    request: async (_subject: string, data: string) => {
      calls++;
      const { channel_id } = JSON.parse(data) as { channel_id: string };
      const r = replies[channel_id] ?? { found: false, api_key: null };
      return { json: () => ({ channel_id, ...r }) };
    },
  } as unknown as NatsConnection;
  return { nc, calls: () => calls };
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
    // The operator stored a new grant: a new token source.
    replies.o.oauth.refresh_token = 'rt-secret-2';
    cache.invalidate();
    expect((await cache.access('o')).token).toBe('at-2');
    expect(new URLSearchParams(ep.calls[1]!.body).get('refresh_token')).toBe('rt-secret-2');
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
});
