import type { NatsConnection } from '@nats-io/transport-node';
import { request } from 'undici';
import { CHANNEL_CREDENTIAL_SUBJECT, channelCredentialReplySchema, type ChannelCredentialReply } from '@switchyard/contracts';
import { GatewayError } from '../errors/gateway-error';
import { OAuthRefreshError, OAuthTokenSource, type OAuthGrant, type TokenPost } from './oauth-token.source';

/** What a request to one channel authenticates with, and the channel's settings. */
export interface ChannelAccess {
  /** The static key or the current OAuth access token; null: the channel has no credential. */
  token: string | null;
  /**
   * `key`: sent in the provider's own key header (Authorization Bearer for
   * OpenAI, `api-key` for Azure, `x-api-key` for Anthropic, `x-goog-api-key`
   * for Gemini). `bearer`: an OAuth access token, always `Authorization: Bearer`.
   */
  scheme: 'key' | 'bearer';
  /** Azure OpenAI's api-version. */
  apiVersion: string | undefined;
}

interface Entry {
  /** Static-key channels: the same object for every request. */
  access: ChannelAccess;
  apiKey: string | null;
  apiVersion: string | undefined;
  oauth: OAuthTokenSource | null;
  /** Identifies the stored grant, to keep its token source across refetches. */
  grantId: string | null;
}

const NO_ACCESS: ChannelAccess = Object.freeze({ token: null, scheme: 'key', apiVersion: undefined });

/** Token endpoint call through undici, bounded by `timeoutMs`. */
export function undiciTokenPost(timeoutMs: number): TokenPost {
  return async (req) => {
    const res = await request(req.url, {
      method: 'POST',
      headers: req.headers,
      body: req.body,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: res.statusCode, body: await res.body.text() };
  };
}

export interface CredentialCacheOptions {
  timeoutMs: number;
  /** Token endpoint calls (default: undici). */
  tokenPost?: TokenPost;
  now?: () => number;
}

/**
 * Upstream credentials per channel, fetched from billing over request-reply
 * on first use and kept in memory only (never in plans, events or logs).
 * Cleared when a new plan arrives so a rotated credential is picked up; an
 * OAuth channel keeps its token source (access token, rotated refresh token)
 * as long as billing's stored grant is the same.
 */
export class CredentialCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<Entry>>();
  private stale = new Map<string, Entry>();
  /** Token sources by channel, surviving invalidation while the grant is unchanged. */
  private readonly sources = new Map<string, { grantId: string; source: OAuthTokenSource }>();
  private readonly timeoutMs: number;
  private readonly tokenPost: TokenPost;
  private readonly now: () => number;

  constructor(
    private readonly nc: NatsConnection,
    opts: CredentialCacheOptions | number,
  ) {
    const o = typeof opts === 'number' ? { timeoutMs: opts } : opts;
    this.timeoutMs = o.timeoutMs;
    this.tokenPost = o.tokenPost ?? undiciTokenPost(Math.max(o.timeoutMs, 10_000));
    this.now = o.now ?? Date.now;
  }

  /** Keeps the old values as a fallback until each is refetched. */
  invalidate(): void {
    this.stale = new Map(this.entries);
    this.entries.clear();
  }

  /** The static key of a channel (null for none or for an OAuth channel). */
  async get(channelId: string): Promise<string | null> {
    return (await this.entry(channelId)).apiKey;
  }

  /**
   * How to authenticate to a channel now: its key, or a valid OAuth access
   * token (refreshed when needed; a refused refresh is an auth failure of
   * the channel, so routing takes it out).
   */
  async access(channelId: string): Promise<ChannelAccess> {
    const e = this.entries.get(channelId) ?? (await this.entry(channelId));
    if (!e.oauth) return e.access;
    let token: string;
    try {
      token = await e.oauth.token();
    } catch (err) {
      throw oauthFailure(err, channelId);
    }
    return { token, scheme: 'bearer', apiVersion: e.apiVersion };
  }

  /** The upstream refused an access token (401/403): the next request refreshes first. */
  rejectToken(channelId: string, token: string): void {
    this.sources.get(channelId)?.source.invalidate(token);
  }

  /** A callback for an attempt made with `access`: forgets its OAuth token if the upstream refuses it. */
  rejecter(channelId: string, access: ChannelAccess): (() => void) | undefined {
    const token = access.token;
    if (access.scheme !== 'bearer' || token === null) return undefined;
    return () => this.rejectToken(channelId, token);
  }

  private entry(channelId: string): Entry | Promise<Entry> {
    const v = this.entries.get(channelId);
    if (v !== undefined) return v;
    let p = this.inflight.get(channelId);
    if (!p) {
      p = this.fetch(channelId).finally(() => this.inflight.delete(channelId));
      this.inflight.set(channelId, p);
    }
    return p;
  }

  private async fetch(channelId: string): Promise<Entry> {
    let reply: ChannelCredentialReply;
    try {
      const msg = await this.nc.request(CHANNEL_CREDENTIAL_SUBJECT, JSON.stringify({ channel_id: channelId }), { timeout: this.timeoutMs });
      reply = channelCredentialReplySchema.parse(msg.json());
    } catch (e) {
      const old = this.stale.get(channelId);
      if (old !== undefined) return old;
      throw new GatewayError('dependency_unavailable', {
        message: 'Channel credentials are unavailable; try again shortly.',
        code: 'credential_service_unavailable',
        channelId,
        retryable: true,
        cause: e,
      });
    }
    const entry = this.toEntry(channelId, reply);
    this.entries.set(channelId, entry);
    return entry;
  }

  private toEntry(channelId: string, reply: ChannelCredentialReply): Entry {
    const apiVersion = reply.settings?.api_version;
    if (!reply.found || !reply.oauth) {
      this.sources.delete(channelId);
      const apiKey = reply.found ? reply.api_key : null;
      const access: ChannelAccess = apiKey === null && apiVersion === undefined ? NO_ACCESS : { token: apiKey, scheme: 'key', apiVersion };
      return { access, apiKey, apiVersion, oauth: null, grantId: null };
    }
    const grant: OAuthGrant = reply.oauth;
    const grantId = JSON.stringify([grant.client_id, grant.client_secret, grant.token_url, grant.refresh_token, grant.scope ?? '', grant.client_auth ?? 'basic']);
    let kept = this.sources.get(channelId);
    if (!kept || kept.grantId !== grantId) {
      kept = { grantId, source: new OAuthTokenSource(grant, { post: this.tokenPost, now: this.now }) };
      this.sources.set(channelId, kept);
    }
    return { access: NO_ACCESS, apiKey: null, apiVersion, oauth: kept.source, grantId };
  }
}

/** A failed refresh as the channel's error: refused → auth (channel taken out), unreachable → transient. */
function oauthFailure(err: unknown, channelId: string): GatewayError {
  const rejected = err instanceof OAuthRefreshError && err.kind === 'rejected';
  return new GatewayError('upstream_error', {
    message: rejected ? 'The channel could not authenticate to its provider.' : 'The channel could not obtain an access token; try again shortly.',
    code: 'upstream_error',
    errorClass: rejected ? 'auth' : 'connect',
    retryable: true,
    channelId,
    upstreamStatus: err instanceof OAuthRefreshError && err.status > 0 ? err.status : undefined,
    // The message of an OAuthRefreshError carries no secret; kept for the operator's debug logs.
    cause: err,
  });
}
