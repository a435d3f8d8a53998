import { timingSafeEqual } from 'node:crypto';
import { refreshTokenSha256, type Provider } from '@switchyard/contracts';

/** Non-secret per-channel settings, stored in `channels.settings`. */
export interface ChannelSettings {
  /** Azure OpenAI's `api-version` query parameter, e.g. `2024-10-21` or `2025-01-01-preview`. */
  api_version?: string;
}

/**
 * An OAuth 2.0 refresh-token grant (RFC 6749 §6): ingress posts
 * `grant_type=refresh_token` to `token_url`, authenticating as the client,
 * and uses the access token it gets back. All of it is stored encrypted.
 */
export interface OAuthCredential {
  type: 'oauth';
  client_id: string;
  client_secret: string;
  token_url: string;
  refresh_token: string;
  scope?: string;
  /** Client authentication at the token endpoint (RFC 6749 §2.3.1): HTTP Basic (default) or in the form body. */
  client_auth?: 'basic' | 'post';
  /**
   * Set by billing once the token endpoint rotated the refresh token: the
   * SHA-256 (hex) of the refresh token the operator stored, which the current
   * one descends from. Lets a declarative config that still names that token
   * count as unchanged instead of writing the invalidated token back. Never
   * accepted from the operator, never sent to ingress.
   */
  rotated_from_sha256?: string;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; reason: string };

/** `YYYY-MM-DD` with an optional `-preview` (Azure's api-version format). */
const API_VERSION = /^\d{4}-\d{2}-\d{2}(-preview)?$/;

/** The settings a channel of `provider` is stored with; Azure OpenAI needs its api-version. */
export function checkChannelSettings(provider: Provider, input: { api_version?: string }): Checked<ChannelSettings> {
  const v = input.api_version?.trim();
  if (provider === 'azure-openai') {
    if (!v) return { ok: false, reason: 'an azure-openai channel needs --api-version (e.g. 2024-10-21)' };
    if (!API_VERSION.test(v)) return { ok: false, reason: `--api-version must look like 2024-10-21 or 2025-01-01-preview (got "${v}")` };
    return { ok: true, value: { api_version: v } };
  }
  if (v) return { ok: false, reason: `--api-version applies to azure-openai channels only (this one is ${provider})` };
  return { ok: true, value: {} };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);

/**
 * Validates an OAuth credential. Reasons name the missing or bad field, never
 * a value (they end up in admin error bodies and logs).
 */
export function checkOAuthCredential(input: unknown): Checked<OAuthCredential> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return { ok: false, reason: 'the oauth credential must be an object' };
  const o = input as Record<string, unknown>;
  if (o.type !== undefined && o.type !== 'oauth') return { ok: false, reason: 'credential.type must be "oauth" (or give api_key for a static key)' };
  const client_id = str(o.client_id);
  const client_secret = typeof o.client_secret === 'string' ? o.client_secret : undefined;
  const token_url = str(o.token_url);
  const refresh_token = str(o.refresh_token);
  const scope = str(o.scope);
  const missing = [!client_id && 'client_id', client_secret === undefined && 'client_secret', !token_url && 'token_url', !refresh_token && 'refresh_token'].filter(Boolean);
  if (missing.length > 0) return { ok: false, reason: `the oauth credential needs ${missing.join(', ')}` };
  let url: URL | undefined;
  try {
    url = new URL(token_url!);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) return { ok: false, reason: 'oauth token_url must be an http(s) URL' };
  if (o.scope !== undefined && typeof o.scope !== 'string') return { ok: false, reason: 'oauth scope must be a string' };
  if (o.client_auth !== undefined && o.client_auth !== 'basic' && o.client_auth !== 'post') return { ok: false, reason: 'oauth client_auth must be "basic" or "post"' };
  const clientAuth = o.client_auth as 'basic' | 'post' | undefined;
  return {
    ok: true,
    value: {
      type: 'oauth',
      client_id: client_id!,
      client_secret: client_secret!,
      token_url: url.toString(),
      refresh_token: refresh_token!,
      ...(scope ? { scope } : {}),
      ...(clientAuth ? { client_auth: clientAuth } : {}),
    },
  };
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** The OAuth grant from a decrypted credential; null when it does not parse (never echoes the value). */
export function readOAuthCredential(plaintext: string): OAuthCredential | null {
  try {
    const json: unknown = JSON.parse(plaintext);
    const r = checkOAuthCredential(json);
    if (!r.ok) return null;
    const origin = (json as { rotated_from_sha256?: unknown }).rotated_from_sha256;
    return typeof origin === 'string' && SHA256_HEX.test(origin) ? { ...r.value, rotated_from_sha256: origin } : r.value;
  } catch {
    return null;
  }
}

/**
 * Whether a declared OAuth grant (JSON, as a config declares it) is what is
 * stored: equal, or equal but for a refresh token the endpoint rotated from
 * the declared one since. A config naming another refresh token (the
 * operator granted access again) is a change.
 */
export function sameDeclaredGrant(storedPlain: string, declaredPlain: string): boolean {
  if (storedPlain === declaredPlain) return true;
  const stored = readOAuthCredential(storedPlain);
  const declared = readOAuthCredential(declaredPlain);
  if (!stored || !declared || stored.rotated_from_sha256 === undefined) return false;
  const { refresh_token: _s, rotated_from_sha256: origin, ...storedRest } = stored;
  const { refresh_token: declaredToken, rotated_from_sha256: _d, ...declaredRest } = declared;
  return JSON.stringify(storedRest) === JSON.stringify(declaredRest) && origin === refreshTokenSha256(declaredToken);
}

// How ingress names the refresh token it refreshed from (the rotation contract's hash).
export { refreshTokenSha256 };

/**
 * What a reported rotation does to the stored grant (compare-and-set):
 * `write` the new refresh token when the stored one is the one the ingress
 * refreshed from; `already` when the new one is stored (a retry); `stale`
 * otherwise — another replica rotated first or the operator replaced the
 * grant, and an older token must not overwrite it.
 */
export function rotateRefreshToken(
  stored: OAuthCredential,
  expectedSha256: string,
  next: string,
): { outcome: 'write'; grant: OAuthCredential } | { outcome: 'already' | 'stale' } {
  if (stored.refresh_token === next) return { outcome: 'already' };
  const expected = Buffer.from(expectedSha256, 'hex');
  const actual = Buffer.from(refreshTokenSha256(stored.refresh_token), 'hex');
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return { outcome: 'stale' };
  return { outcome: 'write', grant: { ...stored, refresh_token: next, rotated_from_sha256: stored.rotated_from_sha256 ?? refreshTokenSha256(stored.refresh_token) } };
}
