/**
 * OAuth 2.0 refresh-token grant (RFC 6749 §6) for one channel: exchanges the
 * stored refresh token for short-lived access tokens and keeps the current
 * one in memory. Plain TypeScript: the clock and the HTTP call are injected.
 *
 * - A token is used until `expires_in` minus a margin (10% of its lifetime,
 *   at most `marginMs`); in that last stretch it is still handed out while one
 *   refresh runs in the background, so requests do not wait on the token
 *   endpoint while the token is valid.
 * - Refreshes are single-flight: concurrent callers share one POST.
 * - A reply with a new `refresh_token` (rotation) replaces the one in memory
 *   and calls `onRotate`; the owner hands it to billing (`unsaved()`, then
 *   `saved()`), so a restarted ingress or another replica starts from it.
 * - When billing's stored refresh token changes under it (another replica
 *   rotated, or the operator stored a new one), `storedRefreshToken()` takes
 *   it for the next refresh and keeps the access token while it is valid.
 * - Errors say which step failed and the endpoint's `error` code, never a
 *   token, secret or the endpoint's free-text description.
 */

export interface OAuthGrant {
  client_id: string;
  client_secret: string;
  token_url: string;
  refresh_token: string;
  scope?: string;
  /** See OAuthTokenSourceOptions.clientAuth (the options win when both are given). */
  client_auth?: 'basic' | 'post';
}

export interface TokenHttpRequest {
  url: string;
  headers: Record<string, string>;
  /** application/x-www-form-urlencoded */
  body: string;
}

export interface TokenHttpResponse {
  status: number;
  /** The body text (read whole; token replies are small). */
  body: string;
}

export type TokenPost = (req: TokenHttpRequest) => Promise<TokenHttpResponse>;

export interface OAuthTokenSourceOptions {
  post: TokenPost;
  /** Epoch ms. */
  now: () => number;
  /** Upper bound of the refresh margin before expiry (default 60 s). */
  marginMs?: number;
  /** Lifetime assumed when the reply has no `expires_in` (default 5 min). */
  defaultTtlMs?: number;
  /** How the client authenticates (RFC 6749 §2.3.1): HTTP Basic (default) or in the form body. */
  clientAuth?: 'basic' | 'post';
  /** Called after the endpoint rotated the refresh token (`unsaved()` then says what to store). */
  onRotate?: () => void;
}

/** A rotated refresh token billing does not hold yet, and the one billing holds instead. */
export interface UnsavedRotation {
  from: string;
  to: string;
}

export type OAuthFailureKind =
  /** The endpoint refused the grant or the client (4xx: invalid_grant, invalid_client, …). */
  | 'rejected'
  /** The endpoint could not be reached, failed (5xx) or answered without a usable token. */
  | 'unavailable';

export class OAuthRefreshError extends Error {
  override readonly name = 'OAuthRefreshError';
  constructor(
    readonly kind: OAuthFailureKind,
    message: string,
    /** The token endpoint's HTTP status; 0 when none arrived. */
    readonly status: number,
  ) {
    super(message);
  }
}

const DEFAULT_MARGIN_MS = 60_000;
const DEFAULT_TTL_MS = 300_000;

/** RFC 6749 Appendix B: client id and secret are form-urlencoded before Basic encoding. */
function formEncode(s: string): string {
  return encodeURIComponent(s).replace(/%20/g, '+');
}

export class OAuthTokenSource {
  private accessToken: string | null = null;
  /** Epoch ms when the token stops being valid. */
  private expiresAt = 0;
  /** Epoch ms from which a refresh is started (expiry minus the margin). */
  private refreshAt = 0;
  /** The refresh token to present next. */
  private refreshToken: string;
  /** The refresh token billing is known to hold. */
  private stored: string;
  private inflight: Promise<string> | null = null;
  private refreshes = 0;

  constructor(
    private readonly grant: OAuthGrant,
    private readonly opts: OAuthTokenSourceOptions,
  ) {
    this.refreshToken = grant.refresh_token;
    this.stored = grant.refresh_token;
  }

  /** Token-endpoint calls made so far (for metrics and tests). */
  get refreshCount(): number {
    return this.refreshes;
  }

  /** True when the endpoint rotated the refresh token and billing does not hold the new one yet. */
  get rotated(): boolean {
    return this.refreshToken !== this.stored;
  }

  /** The rotation billing still has to store (compare-and-set from `from` to `to`); null when in step. */
  unsaved(): UnsavedRotation | null {
    return this.refreshToken === this.stored ? null : { from: this.stored, to: this.refreshToken };
  }

  /** Billing stored `to` in place of `from` (a write that `unsaved()` asked for). */
  saved(rotation: UnsavedRotation): void {
    if (this.stored === rotation.from) this.stored = rotation.to;
  }

  /**
   * Billing's stored grant has `refreshToken` (read when the credential is
   * fetched again). The one presented last or known stored: nothing changes
   * (`in_step`, or `behind` while a rotation is still to be stored). Any
   * other: another replica rotated it (or the operator replaced it), and the
   * old one is likely invalid — it is used from the next refresh on
   * (`adopted`); the access token is kept while it is valid.
   */
  storedRefreshToken(refreshToken: string): 'in_step' | 'behind' | 'adopted' {
    if (refreshToken === this.refreshToken) {
      this.stored = refreshToken;
      return 'in_step';
    }
    if (refreshToken === this.stored) return 'behind';
    this.stored = refreshToken;
    this.refreshToken = refreshToken;
    return 'adopted';
  }

  /**
   * A valid access token: at once when one is held (starting a background
   * refresh near its expiry), else after the (shared) refresh.
   */
  token(): string | Promise<string> {
    const now = this.opts.now();
    if (this.accessToken !== null && now < this.expiresAt) {
      if (now >= this.refreshAt && !this.inflight) void this.refresh().catch(() => undefined);
      return this.accessToken;
    }
    return this.refresh();
  }

  /** Forgets the access token (e.g. the upstream said 401 with it); the next call refreshes. */
  invalidate(token?: string): void {
    if (token === undefined || token === this.accessToken) {
      this.accessToken = null;
      this.expiresAt = 0;
      this.refreshAt = 0;
    }
  }

  private refresh(): Promise<string> {
    if (!this.inflight) {
      this.inflight = this.exchange().finally(() => {
        this.inflight = null;
      });
    }
    return this.inflight;
  }

  private async exchange(): Promise<string> {
    this.refreshes++;
    const form: string[] = ['grant_type=refresh_token', `refresh_token=${formEncode(this.refreshToken)}`];
    if (this.grant.scope) form.push(`scope=${formEncode(this.grant.scope)}`);
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    if ((this.opts.clientAuth ?? this.grant.client_auth ?? 'basic') === 'basic') {
      headers.authorization = `Basic ${Buffer.from(`${formEncode(this.grant.client_id)}:${formEncode(this.grant.client_secret)}`).toString('base64')}`;
    } else {
      form.push(`client_id=${formEncode(this.grant.client_id)}`, `client_secret=${formEncode(this.grant.client_secret)}`);
    }
    const sentAt = this.opts.now();
    let res: TokenHttpResponse;
    try {
      res = await this.opts.post({ url: this.grant.token_url, headers, body: form.join('&') });
    } catch (e) {
      throw new OAuthRefreshError('unavailable', `the OAuth token endpoint could not be reached (${(e as { code?: string }).code ?? 'network error'})`, 0);
    }
    let parsed: Record<string, unknown> = {};
    try {
      const v: unknown = JSON.parse(res.body);
      if (typeof v === 'object' && v !== null) parsed = v as Record<string, unknown>;
    } catch {
      /* not JSON: judged by the status below */
    }
    if (res.status < 200 || res.status >= 300) {
      const code = typeof parsed.error === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(parsed.error) ? parsed.error : null;
      const kind: OAuthFailureKind = res.status >= 400 && res.status < 500 && res.status !== 429 ? 'rejected' : 'unavailable';
      throw new OAuthRefreshError(kind, `the OAuth token endpoint refused the refresh (status ${res.status}${code ? `, ${code}` : ''})`, res.status);
    }
    const token = parsed.access_token;
    if (typeof token !== 'string' || token.length === 0) {
      throw new OAuthRefreshError('unavailable', 'the OAuth token endpoint answered without an access_token', res.status);
    }
    const expiresIn = typeof parsed.expires_in === 'number' ? parsed.expires_in : typeof parsed.expires_in === 'string' ? Number(parsed.expires_in) : NaN;
    const ttl = Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn * 1000 : (this.opts.defaultTtlMs ?? DEFAULT_TTL_MS);
    const margin = Math.min(this.opts.marginMs ?? DEFAULT_MARGIN_MS, ttl / 10);
    // Lifetime counted from when the request was sent: the token may have been issued then.
    this.accessToken = token;
    this.expiresAt = sentAt + ttl;
    this.refreshAt = this.expiresAt - margin;
    if (typeof parsed.refresh_token === 'string' && parsed.refresh_token.length > 0 && parsed.refresh_token !== this.refreshToken) {
      this.refreshToken = parsed.refresh_token;
      this.opts.onRotate?.();
    }
    return token;
  }
}
