import { describe, expect, it } from 'vitest';
import { OAuthRefreshError, OAuthTokenSource, type TokenHttpRequest, type TokenHttpResponse } from './oauth-token.source';

const grant = { client_id: 'client 1', client_secret: 's3cr:t', token_url: 'https://auth.example/token', refresh_token: 'rt-0', scope: 'llm.read llm.write' };

/** A token endpoint that issues `at-N` tokens living `ttl` seconds, optionally rotating the refresh token. */
function endpoint(opts: { ttl?: number; rotate?: boolean; fail?: TokenHttpResponse } = {}) {
  const calls: TokenHttpRequest[] = [];
  const pending: Array<() => void> = [];
  let hold = false;
  let n = 0;
  const post = async (req: TokenHttpRequest): Promise<TokenHttpResponse> => {
    calls.push(req);
    if (hold) await new Promise<void>((r) => pending.push(r));
    if (opts.fail) return opts.fail;
    n++;
    return { status: 200, body: JSON.stringify({ access_token: `at-${n}`, token_type: 'Bearer', expires_in: opts.ttl ?? 100, ...(opts.rotate ? { refresh_token: `rt-${n}` } : {}) }) };
  };
  return {
    post,
    calls,
    hold: () => (hold = true),
    release: () => {
      hold = false;
      for (const r of pending.splice(0)) r();
    },
  };
}

function clock(start = 1_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

describe('OAuthTokenSource', () => {
  it('exchanges the refresh token (form-encoded, client auth by HTTP Basic per RFC 6749) and reuses the access token until near expiry', async () => {
    const ep = endpoint({ ttl: 100 });
    const c = clock();
    const src = new OAuthTokenSource(grant, { post: ep.post, now: c.now });
    expect(await src.token()).toBe('at-1');
    expect(ep.calls).toHaveLength(1);
    const req = ep.calls[0]!;
    expect(req.url).toBe('https://auth.example/token');
    expect(req.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(new URLSearchParams(req.body).get('grant_type')).toBe('refresh_token');
    expect(new URLSearchParams(req.body).get('refresh_token')).toBe('rt-0');
    expect(new URLSearchParams(req.body).get('scope')).toBe('llm.read llm.write');
    expect(new URLSearchParams(req.body).has('client_secret')).toBe(false);
    // id and secret are form-urlencoded before base64 (RFC 6749 Appendix B / §2.3.1).
    expect(Buffer.from(req.headers.authorization!.replace(/^Basic /, ''), 'base64').toString()).toBe('client+1:s3cr%3At');

    c.t += 50_000;
    expect(src.token()).toBe('at-1');
    expect(ep.calls).toHaveLength(1);
  });

  it('client_secret_post puts the client credentials in the form instead', async () => {
    const ep = endpoint();
    const src = new OAuthTokenSource(grant, { post: ep.post, now: Date.now, clientAuth: 'post' });
    await src.token();
    const form = new URLSearchParams(ep.calls[0]!.body);
    expect(form.get('client_id')).toBe('client 1');
    expect(form.get('client_secret')).toBe('s3cr:t');
    expect(ep.calls[0]!.headers).not.toHaveProperty('authorization');
  });

  it('refreshes in the background inside the margin (still serving the valid token) and waits only once expired', async () => {
    const ep = endpoint({ ttl: 100 });
    const c = clock();
    const src = new OAuthTokenSource(grant, { post: ep.post, now: c.now, marginMs: 60_000 });
    await src.token();
    // Margin: min(60 s, 10% of 100 s) = 10 s. At 95 s the old token is served and a refresh starts.
    c.t += 95_000;
    expect(src.token()).toBe('at-1');
    await Promise.resolve();
    await new Promise((r) => setImmediate(r));
    expect(ep.calls).toHaveLength(2);
    expect(src.token()).toBe('at-2');
    // Long past the new token's expiry: the caller waits for a fresh one.
    c.t += 500_000;
    const p = src.token();
    expect(p).toBeInstanceOf(Promise);
    expect(await p).toBe('at-3');
  });

  it('single-flight: concurrent callers share one refresh', async () => {
    const ep = endpoint();
    const src = new OAuthTokenSource(grant, { post: ep.post, now: Date.now });
    ep.hold();
    const all = Promise.all(Array.from({ length: 20 }, () => src.token()));
    ep.release();
    expect(new Set(await all)).toEqual(new Set(['at-1']));
    expect(ep.calls).toHaveLength(1);
    expect(src.refreshCount).toBe(1);
  });

  it('keeps using a rotated refresh token', async () => {
    const ep = endpoint({ ttl: 1, rotate: true });
    const c = clock();
    const src = new OAuthTokenSource(grant, { post: ep.post, now: c.now });
    await src.token();
    c.t += 2_000;
    await src.token();
    c.t += 2_000;
    await src.token();
    expect(ep.calls.map((r) => new URLSearchParams(r.body).get('refresh_token'))).toEqual(['rt-0', 'rt-1', 'rt-2']);
    expect(src.rotated).toBe(true);
  });

  it('a rotation is reported once and stays unsaved until billing stores it', async () => {
    const ep = endpoint({ ttl: 1, rotate: true });
    const c = clock();
    let rotations = 0;
    const src = new OAuthTokenSource(grant, { post: ep.post, now: c.now, onRotate: () => rotations++ });
    expect(src.unsaved()).toBeNull();
    await src.token();
    expect(rotations).toBe(1);
    expect(src.unsaved()).toEqual({ from: 'rt-0', to: 'rt-1' });
    c.t += 2_000;
    await src.token(); // billing still holds rt-0: the write asks to go from rt-0 straight to rt-2
    expect(src.unsaved()).toEqual({ from: 'rt-0', to: 'rt-2' });
    src.saved({ from: 'rt-0', to: 'rt-2' });
    expect(src.unsaved()).toBeNull();
    expect(src.rotated).toBe(false);
  });

  it('takes a refresh token another replica stored for its next refresh, keeping its valid access token', async () => {
    const ep = endpoint({ ttl: 100 });
    const c = clock();
    const src = new OAuthTokenSource(grant, { post: ep.post, now: c.now });
    expect(await src.token()).toBe('at-1');
    expect(src.storedRefreshToken('rt-0')).toBe('in_step');
    expect(src.storedRefreshToken('rt-other')).toBe('adopted');
    expect(await src.token()).toBe('at-1');
    expect(ep.calls).toHaveLength(1);
    c.t += 100_000;
    expect(await src.token()).toBe('at-2');
    expect(new URLSearchParams(ep.calls[1]!.body).get('refresh_token')).toBe('rt-other');
  });

  it('billing still holding the token it rotated from is "behind", not a new grant', async () => {
    const src = new OAuthTokenSource(grant, { post: endpoint({ rotate: true }).post, now: clock().now });
    await src.token();
    expect(src.storedRefreshToken('rt-0')).toBe('behind');
    expect(src.unsaved()).toEqual({ from: 'rt-0', to: 'rt-1' });
    expect(src.storedRefreshToken('rt-1')).toBe('in_step');
    expect(src.unsaved()).toBeNull();
  });

  it('a refused grant is a "rejected" error naming only the status and the error code; an outage is "unavailable"', async () => {
    const refused = new OAuthTokenSource(grant, {
      post: endpoint({ fail: { status: 400, body: JSON.stringify({ error: 'invalid_grant', error_description: 'token rt-0 was revoked' }) } }).post,
      now: Date.now,
    });
    const err = await Promise.resolve(refused.token()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OAuthRefreshError);
    expect((err as OAuthRefreshError).kind).toBe('rejected');
    expect((err as OAuthRefreshError).message).toBe('the OAuth token endpoint refused the refresh (status 400, invalid_grant)');
    expect((err as Error).message).not.toContain('rt-0');

    const down = new OAuthTokenSource(grant, { post: endpoint({ fail: { status: 503, body: 'busy' } }).post, now: Date.now });
    await expect(Promise.resolve(down.token())).rejects.toMatchObject({ kind: 'unavailable', status: 503 });

    const unreachable = new OAuthTokenSource(grant, {
      post: () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
      now: Date.now,
    });
    await expect(Promise.resolve(unreachable.token())).rejects.toMatchObject({ kind: 'unavailable', status: 0 });

    const noToken = new OAuthTokenSource(grant, { post: async () => ({ status: 200, body: '{"token_type":"Bearer"}' }), now: Date.now });
    await expect(Promise.resolve(noToken.token())).rejects.toMatchObject({ kind: 'unavailable' });
  });

  it('a failed refresh is retried by the next caller (no stuck failure), and invalidate forces a refresh', async () => {
    let fail = true;
    let n = 0;
    const src = new OAuthTokenSource(grant, {
      post: async () => (fail ? { status: 500, body: '' } : { status: 200, body: JSON.stringify({ access_token: `at-${++n}`, expires_in: 3600 }) }),
      now: Date.now,
    });
    await expect(Promise.resolve(src.token())).rejects.toBeInstanceOf(OAuthRefreshError);
    fail = false;
    expect(await src.token()).toBe('at-1');
    src.invalidate('not-the-current-one');
    expect(src.token()).toBe('at-1');
    src.invalidate('at-1');
    expect(await src.token()).toBe('at-2');
  });
});
