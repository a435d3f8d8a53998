import type { Provider } from '@switchyard/contracts';

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

/** The OAuth grant from a decrypted credential; null when it does not parse (never echoes the value). */
export function readOAuthCredential(plaintext: string): OAuthCredential | null {
  try {
    const r = checkOAuthCredential(JSON.parse(plaintext));
    return r.ok ? r.value : null;
  } catch {
    return null;
  }
}
