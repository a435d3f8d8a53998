import type { ErrorClass } from '@switchyard/contracts';

export type GatewayErrorKind =
  | 'invalid_request'
  | 'unauthenticated'
  | 'permission_denied'
  | 'model_not_found'
  | 'not_found'
  | 'payload_too_large'
  | 'upstream_unreachable'
  | 'upstream_timeout'
  | 'upstream_error'
  | 'upstream_rate_limited'
  | 'rate_limited'
  /** Out of money or over a key budget (402). */
  | 'insufficient_quota'
  | 'no_channel'
  | 'dependency_unavailable'
  | 'internal';

export type TimeoutPhase = 'connect' | 'headers' | 'first_token' | 'idle' | 'total';

const STATUS: Record<GatewayErrorKind, number> = {
  invalid_request: 400,
  unauthenticated: 401,
  permission_denied: 403,
  model_not_found: 404,
  not_found: 404,
  payload_too_large: 413,
  upstream_unreachable: 502,
  upstream_timeout: 504,
  upstream_error: 502,
  upstream_rate_limited: 429,
  rate_limited: 429,
  insufficient_quota: 402,
  no_channel: 503,
  dependency_unavailable: 503,
  internal: 500,
};

export interface GatewayErrorInit {
  message: string;
  status?: number;
  code?: string | null;
  param?: string | null;
  retryable?: boolean;
  provider?: string;
  channelId?: string;
  upstreamStatus?: number;
  errorClass?: ErrorClass;
  timeoutPhase?: TimeoutPhase;
  /** Error body to show the client as is (an upstream's own client error). */
  upstreamBody?: unknown;
  /** Response headers that go with the error (Retry-After, rate-limit state). */
  headers?: Record<string, string>;
  /** The upstream's Retry-After, as a channel cooldown. */
  retryAfterMs?: number | null;
  cause?: unknown;
}

/**
 * The one error type of the gateway. `kind` says what went wrong, `status`
 * what the client gets; one place (openai-error.ts) turns it into the
 * caller's protocol shape.
 */
export class GatewayError extends Error {
  readonly status: number;
  readonly code: string | null;
  readonly param: string | null;
  readonly retryable: boolean;
  readonly provider?: string;
  readonly channelId?: string;
  readonly upstreamStatus?: number;
  readonly errorClass: ErrorClass | null;
  readonly timeoutPhase?: TimeoutPhase;
  readonly upstreamBody?: unknown;
  readonly headers?: Record<string, string>;
  readonly retryAfterMs: number | null;

  constructor(
    readonly kind: GatewayErrorKind,
    init: GatewayErrorInit,
  ) {
    super(init.message, { cause: init.cause });
    this.name = 'GatewayError';
    this.status = init.status ?? STATUS[kind];
    this.code = init.code ?? null;
    this.param = init.param ?? null;
    this.retryable = init.retryable ?? false;
    this.provider = init.provider;
    this.channelId = init.channelId;
    this.upstreamStatus = init.upstreamStatus;
    this.errorClass = init.errorClass ?? null;
    this.timeoutPhase = init.timeoutPhase;
    this.upstreamBody = init.upstreamBody;
    this.headers = init.headers;
    this.retryAfterMs = init.retryAfterMs ?? null;
  }
}
