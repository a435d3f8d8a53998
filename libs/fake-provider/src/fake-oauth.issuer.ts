import { randomBytes } from 'node:crypto';

export interface FakeOAuthOptions {
  clientId: string;
  clientSecret: string;
  /** The refresh token the client starts with. */
  refreshToken: string;
  /** Lifetime of issued access tokens in seconds (default 2: short, to test expiry). */
  ttlSeconds?: number;
  /** Issue a new refresh token with every access token (the old one stops working). */
  rotateRefreshToken?: boolean;
  scope?: string;
  /** Clock in epoch ms (default Date.now). */
  now?: () => number;
}

export interface TokenReply {
  status: number;
  body: Record<string, unknown>;
}

/**
 * An OAuth 2.0 token endpoint for the refresh-token grant (RFC 6749 §6), with
 * client authentication by HTTP Basic or in the form (§2.3.1). Issues
 * short-lived opaque access tokens and says whether one is valid now; errors
 * are RFC 6749 §5.2 bodies (`invalid_client`, `invalid_grant`, …).
 */
export class FakeOAuthIssuer {
  /** Token requests received (successful or not). */
  tokenRequests = 0;
  /** Access tokens issued. */
  issued = 0;
  /** Every refresh token presented by an authenticated client, in order (accepted or not). */
  presentedRefreshTokens: string[] = [];
  /** Refresh-token grants refused as invalid (an old or unknown refresh token). */
  invalidGrants = 0;
  private refreshToken: string;
  private readonly tokens = new Map<string, number>();
  private readonly now: () => number;
  private readonly ttlMs: number;

  constructor(private readonly opts: FakeOAuthOptions) {
    this.refreshToken = opts.refreshToken;
    this.now = opts.now ?? Date.now;
    this.ttlMs = (opts.ttlSeconds ?? 2) * 1000;
  }

  /** The refresh token currently accepted (changes when rotation is on). */
  get currentRefreshToken(): string {
    return this.refreshToken;
  }

  /** True when `token` was issued here and has not expired. */
  isValid(token: string): boolean {
    const exp = this.tokens.get(token);
    return exp !== undefined && this.now() < exp;
  }

  /** Every access token issued so far (to check none leaked anywhere). */
  issuedTokens(): string[] {
    return [...this.tokens.keys()];
  }

  /** Handles `POST /oauth/token` (form-encoded body). */
  handle(headers: { authorization?: string; 'content-type'?: string }, rawBody: string): TokenReply {
    this.tokenRequests++;
    if (!(headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      return { status: 400, body: { error: 'invalid_request', error_description: 'the body must be application/x-www-form-urlencoded' } };
    }
    const form = new URLSearchParams(rawBody);
    let clientId = form.get('client_id');
    let clientSecret = form.get('client_secret');
    const auth = headers.authorization;
    if (auth?.startsWith('Basic ')) {
      const decoded = Buffer.from(auth.slice(6), 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      const dec = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
      clientId = dec(decoded.slice(0, i));
      clientSecret = dec(decoded.slice(i + 1));
    }
    if (clientId !== this.opts.clientId || clientSecret !== this.opts.clientSecret) {
      return { status: 401, body: { error: 'invalid_client', error_description: 'Client authentication failed.' } };
    }
    if (form.get('grant_type') !== 'refresh_token') {
      return { status: 400, body: { error: 'unsupported_grant_type', error_description: 'Only refresh_token is supported.' } };
    }
    this.presentedRefreshTokens.push(form.get('refresh_token') ?? '');
    if (form.get('refresh_token') !== this.refreshToken) {
      this.invalidGrants++;
      return { status: 400, body: { error: 'invalid_grant', error_description: 'The refresh token is invalid or expired.' } };
    }
    const scope = form.get('scope');
    if (this.opts.scope !== undefined && scope !== null && scope !== this.opts.scope) {
      return { status: 400, body: { error: 'invalid_scope', error_description: 'The requested scope exceeds the grant.' } };
    }
    const token = `fake-at-${randomBytes(12).toString('hex')}`;
    this.tokens.set(token, this.now() + this.ttlMs);
    this.issued++;
    const body: Record<string, unknown> = { access_token: token, token_type: 'Bearer', expires_in: this.ttlMs / 1000 };
    if (this.opts.scope !== undefined) body.scope = this.opts.scope;
    if (this.opts.rotateRefreshToken) {
      this.refreshToken = `fake-rt-${randomBytes(12).toString('hex')}`;
      body.refresh_token = this.refreshToken;
    }
    return { status: 200, body };
  }
}
