import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from 'pg';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { CHANNEL_OAUTH_ROTATED_SUBJECT, oauthRotatedReplySchema } from '@switchyard/contracts';
import { FakeOAuthIssuer, startFakeOpenAI, type FakeProvider } from '@switchyard/fake-provider';
import { freePort, ServiceProcess, startStack, type Stack } from '@switchyard/testkit';
import { decryptCredential, parseCredentialKey } from '../../services/billing/src/crypto/credential-cipher';
import { until } from '../support/until';

/**
 * OAuth refresh-token rotation across ingress replicas and restarts: the
 * token endpoint invalidates a refresh token once used, so every ingress
 * must present the latest one, which only billing can hand from one to the
 * other.
 */

const OAUTH = { clientId: 'rot-client', clientSecret: 'rot-client-secret-Q1W2E3', refreshToken: 'rot-refresh-token-START-0001' };
const TTL_S = 6;

let issuer: FakeOAuthIssuer;
let up: FakeProvider;
let stack: Stack;
let replica: ServiceProcess;
let pg: Client;
let nc: NatsConnection;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

async function chat(ingressUrl: string): Promise<void> {
  const res = await fetch(`${ingressUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'rot-4o', messages: [{ role: 'user', content: 'hi' }] }),
  });
  expect(res.status, await res.clone().text()).toBe(200);
  await res.text();
}

/** The channel's stored credential: the ciphertext and the grant in it. */
async function stored(): Promise<{ ciphertext: string; refreshToken: string }> {
  const r = await pg.query<{ credential: string }>("SELECT credential FROM channels WHERE id = 'rot'");
  const ciphertext = r.rows[0]!.credential;
  const grant = JSON.parse(decryptCredential(ciphertext, parseCredentialKey(stack.env.SWITCHYARD_CREDENTIAL_KEY))) as { refresh_token: string };
  return { ciphertext, refreshToken: grant.refresh_token };
}

const storedBecomes = (token: string) => until(`billing to store the rotated refresh token`, async () => ((await stored()).refreshToken === token ? true : undefined), 10_000);

beforeAll(async () => {
  issuer = new FakeOAuthIssuer({ ...OAUTH, ttlSeconds: TTL_S, rotateRefreshToken: true });
  up = await startFakeOpenAI({ oauth: issuer, behavior: { chunks: 2, chunkText: 'ok ' } });
  const origin = up.url.replace(/\/v1$/, '');
  stack = await startStack({
    channels: [
      {
        id: 'rot',
        baseUrl: up.url,
        extraArgs: ['--oauth-client-id', OAUTH.clientId, '--oauth-client-secret', OAUTH.clientSecret, '--oauth-token-url', `${origin}/oauth/token`, '--oauth-refresh-token', OAUTH.refreshToken],
        models: [{ model: 'rot-4o', upstream: 'gpt-4o', inputUsdPerMtok: '1', outputUsdPerMtok: '2' }],
      },
    ],
    // Debug logs, so the leak check covers everything the services say.
    env: { ingress: { LOG_LEVEL: 'debug' }, billing: { LOG_LEVEL: 'debug' } },
  });
  const port = await freePort();
  replica = new ServiceProcess('ingress', port, { ...stack.env, LOG_LEVEL: 'debug', INGRESS_PORT: String(port) });
  await replica.start();
  pg = new Client({ connectionString: stack.urls.databaseUrl });
  await pg.connect();
  nc = await connect({ servers: stack.urls.natsUrl });
}, 120_000);

afterAll(async () => {
  await nc?.close();
  await pg?.end();
  await replica?.stop();
  await stack?.stop();
  await up?.close();
});

describe('OAuth refresh-token rotation', () => {
  const tokens = [OAUTH.refreshToken];

  it('billing keeps the rotated refresh token; replicas and a restarted ingress refresh with the latest one, never an invalidated one', async () => {
    const first = stack.services.ingress;
    // 1. The first ingress refreshes from the operator's token; the endpoint rotates it.
    await chat(first.url);
    const firstTokenAt = Date.now();
    tokens.push(issuer.currentRefreshToken);
    await storedBecomes(tokens[1]!);
    const s = await stored();
    expect(s.ciphertext).toMatch(/^enc:v1:/);
    expect(s.ciphertext).not.toContain(tokens[1]!);

    // 2. The replica starts from billing's (rotated) token and rotates it again.
    await chat(replica.url);
    tokens.push(issuer.currentRefreshToken);
    await storedBecomes(tokens[2]!);

    // 3. The first ingress hears of it and keeps its still-valid access token: no refresh.
    await sleep(300);
    const before = issuer.tokenRequests;
    await chat(first.url);
    expect(issuer.tokenRequests).toBe(before);

    // 4. Once that token expires it refreshes with the replica's refresh token.
    await sleep(Math.max(0, firstTokenAt + TTL_S * 1000 + 300 - Date.now()));
    await chat(first.url);
    tokens.push(issuer.currentRefreshToken);
    await storedBecomes(tokens[3]!);

    // 5. A fresh ingress process starts from billing's latest token.
    await first.stop();
    await first.start();
    await chat(first.url);
    tokens.push(issuer.currentRefreshToken);
    await storedBecomes(tokens[4]!);

    expect(issuer.presentedRefreshTokens).toEqual(tokens.slice(0, 4));
    expect(issuer.invalidGrants).toBe(0);
    expect(new Set(tokens).size).toBe(5);
  }, 60_000);

  it('a stale rotation (from a refresh token billing no longer holds) is refused and changes nothing', async () => {
    const before = await stored();
    const msg = await nc.request(
      CHANNEL_OAUTH_ROTATED_SUBJECT,
      JSON.stringify({ channel_id: 'rot', expected_refresh_token_sha256: sha256(tokens[1]!), refresh_token: 'stale-write-rt-ZZZ999' }),
      { timeout: 3_000 },
    );
    expect(oauthRotatedReplySchema.parse(msg.json())).toEqual({ channel_id: 'rot', outcome: 'stale' });
    expect(await stored()).toEqual(before);
    // Billing still answers the ingress with the latest grant: a request needs no refresh and succeeds.
    await chat(replica.url);
    expect(issuer.invalidGrants).toBe(0);
  });

  it('no refresh token, client secret or access token appears in any service log', () => {
    const secrets = [OAUTH.clientSecret, ...tokens, issuer.currentRefreshToken, 'stale-write-rt-ZZZ999', ...issuer.issuedTokens()];
    const logs: Array<[string, string]> = [
      ...(['ingress', 'billing', 'router', 'stats'] as const).map((n): [string, string] => [n, stack.services[n].logs()]),
      ['ingress replica', replica.logs()],
    ];
    expect(logs.find(([n]) => n === 'billing')![1]).toMatch(/rotated|rotation/);
    for (const [name, text] of logs) for (const s of secrets) expect(text, `${name} logs`).not.toContain(s);
  });
});
