import type { NatsConnection } from '@nats-io/transport-node';
import { request } from 'undici';
import {
  CATALOG_CHANGED_SUBJECT,
  CHANNEL_CREDENTIAL_SUBJECT,
  CHANNEL_OAUTH_ROTATED_SUBJECT,
  catalogChangedSchema,
  channelCredentialReplySchema,
  oauthRotatedReplySchema,
  type ChannelCredentialReply,
} from '@switchyard/contracts';
import { GatewayError } from '../errors/gateway-error';
import { OAuthRefreshError, OAuthTokenSource, type OAuthGrant, type TokenPost } from './oauth-token.source';
import { RotationWriteBack, type RotationWriteBackLog } from './oauth-rotation.write-back';

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
  /** Identifies the stored grant (its refresh token aside), to keep its token source across refetches. */
  grantId: string | null;
  /** This fetch found a refresh token in billing the token source did not know (another replica rotated). */
  adopted: boolean;
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
  /** Waits between attempts to hand a rotated refresh token to billing (see RotationWriteBack). */
  rotationRetryDelaysMs?: readonly number[];
  log?: RotationWriteBackLog;
}

/**
 * Upstream credentials per channel, fetched from billing over request-reply
 * on first use and kept in memory only (never in plans, events or logs).
 * Cleared when a new plan arrives, and a channel's entry when billing
 * announces a change of that channel, so a new credential is picked up.
 *
 * An OAuth channel keeps its token source (access token, refresh token) as
 * long as billing's grant has the same client, endpoint and scope. When the
 * token endpoint rotates the refresh token, the new one is handed to billing
 * (RotationWriteBack), which announces it; other replicas then take it for
 * their next refresh, keeping their still-valid access tokens.
 */
export class CredentialCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<Entry>>();
  private stale = new Map<string, Entry>();
  /** Token sources by channel, surviving invalidation while the grant is unchanged. */
  private readonly sources = new Map<string, { grantId: string; source: OAuthTokenSource }>();
  /** Bumped when billing announces a change of the channel: a fetch started before it is not cached. */
  private readonly generations = new Map<string, number>();
  private readonly writeBack: RotationWriteBack;
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
    this.writeBack = new RotationWriteBack({
      send: async (req) => {
        const msg = await this.nc.request(CHANNEL_OAUTH_ROTATED_SUBJECT, JSON.stringify(req), { timeout: this.timeoutMs });
        return oauthRotatedReplySchema.parse(msg.json()).outcome;
      },
      retryDelaysMs: o.rotationRetryDelaysMs,
      log: o.log,
      onStale: (channelId) => this.forget(channelId),
    });
  }

  /** Listens for billing's channel-change notices (a credential change alone moves no plan). */
  watchChanges(): void {
    const sub = this.nc.subscribe(CATALOG_CHANGED_SUBJECT);
    void (async () => {
      for await (const m of sub) {
        const notice = catalogChangedSchema.safeParse(m.json());
        if (notice.success && notice.data.channel_id) this.forget(notice.data.channel_id);
      }
    })();
  }

  /** Refetches one channel's credential at its next use, keeping the old one as a fallback. */
  forget(channelId: string): void {
    this.generations.set(channelId, (this.generations.get(channelId) ?? 0) + 1);
    this.inflight.delete(channelId);
    const e = this.entries.get(channelId);
    if (e !== undefined) {
      this.stale.set(channelId, e);
      this.entries.delete(channelId);
    }
  }

  /** Resolves when no rotated refresh token is waiting to be handed to billing. */
  rotationsSettled(): Promise<void> {
    return this.writeBack.idle();
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
      token = await this.retryWithStoredGrant(channelId, err);
    }
    return { token, scheme: 'bearer', apiVersion: e.apiVersion };
  }

  /**
   * A refused refresh may have presented a refresh token another replica
   * rotated a moment ago (its notice not here yet): ask billing once, and
   * refresh again if it holds a different one.
   */
  private async retryWithStoredGrant(channelId: string, err: unknown): Promise<string> {
    if (!(err instanceof OAuthRefreshError) || err.kind !== 'rejected') throw oauthFailure(err, channelId);
    let fresh: Entry;
    try {
      this.forget(channelId);
      fresh = await this.entry(channelId);
    } catch {
      throw oauthFailure(err, channelId);
    }
    if (!fresh.oauth || !fresh.adopted) throw oauthFailure(err, channelId);
    try {
      return await fresh.oauth.token();
    } catch (again) {
      throw oauthFailure(again, channelId);
    }
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
    const generation = this.generations.get(channelId) ?? 0;
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
    if ((this.generations.get(channelId) ?? 0) === generation) this.entries.set(channelId, entry);
    return entry;
  }

  private toEntry(channelId: string, reply: ChannelCredentialReply): Entry {
    const apiVersion = reply.settings?.api_version;
    if (!reply.found || !reply.oauth) {
      this.sources.delete(channelId);
      const apiKey = reply.found ? reply.api_key : null;
      const access: ChannelAccess = apiKey === null && apiVersion === undefined ? NO_ACCESS : { token: apiKey, scheme: 'key', apiVersion };
      return { access, apiKey, apiVersion, oauth: null, grantId: null, adopted: false };
    }
    const grant: OAuthGrant = reply.oauth;
    const grantId = JSON.stringify([grant.client_id, grant.client_secret, grant.token_url, grant.scope ?? '', grant.client_auth ?? 'basic']);
    const kept = this.sources.get(channelId);
    if (kept && kept.grantId === grantId) {
      const state = kept.source.storedRefreshToken(grant.refresh_token);
      // Billing still lacks this replica's rotation (an earlier hand-over gave up): try again.
      if (state === 'behind') this.writeBack.push(channelId, kept.source);
      return { access: NO_ACCESS, apiKey: null, apiVersion, oauth: kept.source, grantId, adopted: state === 'adopted' };
    }
    const source: OAuthTokenSource = new OAuthTokenSource(grant, { post: this.tokenPost, now: this.now, onRotate: () => this.writeBack.push(channelId, source) });
    this.sources.set(channelId, { grantId, source });
    return { access: NO_ACCESS, apiKey: null, apiVersion, oauth: source, grantId, adopted: false };
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
