import type { ErrorClass } from '@switchyard/contracts';

/** What came back from (or happened on the way to) an upstream. */
export interface UpstreamFailure {
  /** HTTP status; 0 or undefined when no response arrived. */
  status?: number;
  /** Parsed JSON body or raw text; only read for classification, never echoed. */
  body?: unknown;
  /** Response headers (lower- or mixed-case names). */
  headers?: Readonly<Record<string, string | string[] | undefined>>;
  /** Transport failure kind when no (complete) response arrived. */
  transport?: 'connect' | 'reset' | 'timeout' | 'abort' | 'stream_broken';
  /** Node/undici error code (ECONNREFUSED, UND_ERR_HEADERS_TIMEOUT, …). */
  code?: string;
}

export interface Classification {
  error_class: ErrorClass;
  /** Short, secret-free reason: which signal decided ("code insufficient_quota", "status 503"). */
  reason: string;
  /** Cooldown asked for by `Retry-After` (ms from now), null when absent or unparsable. */
  retry_after_ms: number | null;
}

/** What an error class means for routing the current request and the channel. */
export interface RoutingAction {
  /** Try the next channel in the plan. */
  next_channel: boolean;
  /** Wait an exponential backoff before that next attempt. */
  backoff: boolean;
  /** Put the channel in cooldown (Retry-After, or the default cooldown). */
  cooldown: boolean;
  /** Take the channel out (breaker tripped for the long disable period) until a probe restores it. */
  disable_channel: boolean;
  /** Return this error to the client now: retrying elsewhere cannot help. */
  return_to_client: boolean;
  /** Whether the failure counts against the channel's success rate and breaker. */
  counts_against_channel: boolean;
}

const ACTIONS: Readonly<Record<ErrorClass, RoutingAction>> = {
  transient: { next_channel: true, backoff: true, cooldown: false, disable_channel: false, return_to_client: false, counts_against_channel: true },
  timeout: { next_channel: true, backoff: false, cooldown: false, disable_channel: false, return_to_client: false, counts_against_channel: true },
  connect: { next_channel: true, backoff: false, cooldown: false, disable_channel: false, return_to_client: false, counts_against_channel: true },
  rate_limit: { next_channel: true, backoff: false, cooldown: true, disable_channel: false, return_to_client: false, counts_against_channel: true },
  auth: { next_channel: true, backoff: false, cooldown: false, disable_channel: true, return_to_client: false, counts_against_channel: true },
  quota: { next_channel: true, backoff: false, cooldown: false, disable_channel: true, return_to_client: false, counts_against_channel: true },
  permanent: { next_channel: false, backoff: false, cooldown: false, disable_channel: false, return_to_client: true, counts_against_channel: false },
  client_abort: { next_channel: false, backoff: false, cooldown: false, disable_channel: false, return_to_client: true, counts_against_channel: false },
  // A race/hedge loser aborted because another channel answered: nothing to do, nothing held against it.
  cancelled: { next_channel: false, backoff: false, cooldown: false, disable_channel: false, return_to_client: false, counts_against_channel: false },
  mid_stream: { next_channel: true, backoff: false, cooldown: false, disable_channel: false, return_to_client: false, counts_against_channel: true },
  unknown: { next_channel: true, backoff: true, cooldown: false, disable_channel: false, return_to_client: false, counts_against_channel: true },
};

/**
 * transient/unknown → next channel after backoff; timeout/connect → next
 * channel at once (another host, the time is already spent); rate_limit →
 * next channel at once and a cooldown; auth/quota → channel disabled, next
 * channel; permanent/client_abort → returned at once. mid_stream → next
 * channel only where mid-stream failover is enabled (the caller decides);
 * cancelled (a race/hedge loser) → nothing.
 */
export function routingActionFor(errorClass: ErrorClass): RoutingAction {
  return ACTIONS[errorClass];
}

/** False for failures the client caused (bad request, hung up): they say nothing about the channel. */
export function countsAgainstChannel(errorClass: ErrorClass): boolean {
  return ACTIONS[errorClass].counts_against_channel;
}

/** Provider error types/codes/statuses (OpenAI, Anthropic, Gemini, Azure), lower-cased. */
const CODE_CLASSES: Readonly<Record<string, ErrorClass>> = {
  // OpenAI / Azure OpenAI
  insufficient_quota: 'quota',
  billing_hard_limit_reached: 'quota',
  billing_not_active: 'quota',
  rate_limit_exceeded: 'rate_limit',
  tokens_exceeded: 'rate_limit',
  requests: 'rate_limit',
  tokens: 'rate_limit',
  invalid_api_key: 'auth',
  invalid_authentication: 'auth',
  account_deactivated: 'auth',
  unsupported_country_region_territory: 'auth',
  context_length_exceeded: 'permanent',
  string_above_max_length: 'permanent',
  invalid_request_error: 'permanent',
  invalid_prompt: 'permanent',
  content_filter: 'permanent',
  content_policy_violation: 'permanent',
  model_not_found: 'permanent',
  deploymentnotfound: 'permanent',
  server_error: 'transient',
  engine_overloaded: 'transient',
  // Anthropic
  rate_limit_error: 'rate_limit',
  overloaded_error: 'transient',
  api_error: 'transient',
  authentication_error: 'auth',
  permission_error: 'auth',
  billing_error: 'quota',
  not_found_error: 'permanent',
  request_too_large: 'permanent',
  // Gemini / Google RPC status and ErrorInfo reasons
  api_key_invalid: 'auth',
  api_key_expired: 'auth',
  resource_exhausted: 'rate_limit',
  permission_denied: 'auth',
  unauthenticated: 'auth',
  invalid_argument: 'permanent',
  failed_precondition: 'permanent',
  not_found: 'permanent',
  out_of_range: 'permanent',
  unavailable: 'transient',
  internal: 'transient',
  deadline_exceeded: 'timeout',
  aborted: 'transient',
};

/** Catch-all types that a more specific message keyword may refine. */
const GENERIC_CODES: ReadonlySet<string> = new Set(['invalid_request_error', 'invalid_argument', 'failed_precondition']);

/** Strong phrases in error messages, checked in order (first match wins). */
const KEYWORDS: ReadonlyArray<readonly [RegExp, ErrorClass]> = [
  [/check your plan and billing|insufficient (?:quota|credit|balance|funds)|credit balance is too low|billing/i, 'quota'],
  [/context (?:length|window)|maximum context|too many tokens|prompt is too long|max_tokens.*(?:exceed|too large)/i, 'permanent'],
  [/rate.?limit|too many requests|requests per (?:minute|min|day)|tokens per (?:minute|min)|quota exceeded for (?:metric|quota metric)/i, 'rate_limit'],
  [/(?:invalid|incorrect|missing|expired) (?:x-)?api[ _-]?key|unauthori[sz]ed|api key not valid/i, 'auth'],
  [/overloaded|temporarily unavailable|try again later|upstream connect error|bad gateway/i, 'transient'],
  [/exceeded your current quota|quota/i, 'quota'],
];

const TRANSPORT_CODES: Readonly<Record<string, ErrorClass>> = {
  ECONNREFUSED: 'connect',
  ENOTFOUND: 'connect',
  EAI_AGAIN: 'connect',
  EHOSTUNREACH: 'connect',
  ENETUNREACH: 'connect',
  UND_ERR_CONNECT_TIMEOUT: 'connect',
  CERT_HAS_EXPIRED: 'connect',
  ECONNRESET: 'transient',
  EPIPE: 'transient',
  UND_ERR_SOCKET: 'transient',
  UND_ERR_CLOSED: 'transient',
  ETIMEDOUT: 'timeout',
  UND_ERR_HEADERS_TIMEOUT: 'timeout',
  UND_ERR_BODY_TIMEOUT: 'timeout',
  ABORT_ERR: 'client_abort',
  UND_ERR_ABORTED: 'client_abort',
};

const TRANSPORT_KINDS: Readonly<Record<NonNullable<UpstreamFailure['transport']>, ErrorClass>> = {
  connect: 'connect',
  reset: 'transient',
  timeout: 'timeout',
  abort: 'client_abort',
  stream_broken: 'mid_stream',
};

/**
 * Classifies an upstream failure. Precedence: transport failure, then the
 * provider's error type/code (most specific: OpenAI sends
 * `insufficient_quota` with a 429, Anthropic `overloaded_error` with a 529),
 * then strong message keywords, then the HTTP status.
 */
export function classifyUpstreamError(failure: UpstreamFailure, nowMs: number): Classification {
  const retry_after_ms = parseRetryAfter(header(failure.headers, 'retry-after'), nowMs);
  const done = (error_class: ErrorClass, reason: string): Classification => ({ error_class, reason, retry_after_ms });

  if (failure.transport) return done(TRANSPORT_KINDS[failure.transport], `transport ${failure.transport}`);
  if (failure.code && TRANSPORT_CODES[failure.code]) return done(TRANSPORT_CODES[failure.code]!, `code ${failure.code}`);

  const status = typeof failure.status === 'number' && Number.isFinite(failure.status) ? failure.status : 0;
  const { codes, message } = errorSignals(failure.body);
  let generic: Classification | null = null;
  for (const code of codes) {
    const lc = code.toLowerCase();
    const cls = CODE_CLASSES[lc];
    if (!cls) continue;
    // Gemini says RESOURCE_EXHAUSTED both for per-minute limits and for an exhausted billing quota.
    if (cls === 'rate_limit' && /check your plan and billing|billing details|credit balance/i.test(message)) return done('quota', `code ${code}`);
    if (GENERIC_CODES.has(lc)) {
      // A catch-all type ("invalid_request_error") only decides when the message says nothing more
      // specific, and only when the status agrees it is the client's fault.
      if (generic === null && (status === 0 || (status >= 400 && status < 500 && status !== 401 && status !== 403 && status !== 429))) generic = done(cls, `code ${code}`);
      continue;
    }
    return done(cls, `code ${code}`);
  }
  if (message) {
    for (const [re, cls] of KEYWORDS) if (re.test(message)) return done(cls, `message keyword (${cls})`);
  }
  if (generic) return generic;
  if (status === 0) return done('connect', 'no response');
  const byStatus = classifyStatus(status);
  return done(byStatus, `status ${status}`);
}

/** The class an HTTP status alone implies. */
export function classifyStatus(status: number): ErrorClass {
  if (status === 408) return 'timeout';
  if (status === 429) return 'rate_limit';
  if (status === 401 || status === 403) return 'auth';
  if (status === 402) return 'quota';
  if (status === 409 || status === 425) return 'transient';
  if (status === 499) return 'client_abort';
  if (status >= 400 && status < 500) return 'permanent';
  if (status >= 500 && status < 600) return 'transient';
  return 'unknown';
}

/**
 * Parses a `Retry-After` value — delay-seconds ("120", "1.5") or an
 * HTTP-date — into milliseconds from `nowMs`. Past dates give 0; garbage,
 * negatives and absent values give null. Also accepts `retry-after-ms`
 * style plain millisecond values when passed with `unit: 'ms'`.
 */
export function parseRetryAfter(value: string | undefined | null, nowMs: number, unit: 's' | 'ms' = 's'): number | null {
  if (value === undefined || value === null) return null;
  const v = value.trim();
  if (v === '') return null;
  if (/^\d+(?:\.\d+)?$/.test(v)) {
    const n = Number(v);
    return Number.isFinite(n) ? Math.round(unit === 's' ? n * 1000 : n) : null;
  }
  // HTTP-date: IMF-fixdate (and the obsolete forms Date.parse understands); must name a weekday or month to avoid "5m" etc.
  if (!/[a-z]{3}/i.test(v)) return null;
  const t = Date.parse(v);
  if (!Number.isFinite(t)) return null;
  return Math.max(0, t - nowMs);
}

/** The cooldown for a classified failure, bounded: Retry-After when present, else the default; null when the class takes none. */
export function cooldownMsFor(
  c: Classification,
  opts: { defaultRateLimitCooldownMs?: number; maxCooldownMs?: number } = {},
): number | null {
  const max = opts.maxCooldownMs ?? 600_000;
  if (c.retry_after_ms !== null && c.retry_after_ms > 0 && (c.error_class === 'rate_limit' || c.error_class === 'transient' || c.error_class === 'quota')) {
    return Math.min(max, c.retry_after_ms);
  }
  if (!routingActionFor(c.error_class).cooldown) return null;
  return Math.min(max, opts.defaultRateLimitCooldownMs ?? 10_000);
}

function header(headers: UpstreamFailure['headers'], name: string): string | undefined {
  if (!headers) return undefined;
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() === name) return Array.isArray(v) ? v[0] : v;
  }
  return undefined;
}

/** Pulls error type/code/status strings and the message out of the known provider shapes. */
function errorSignals(body: unknown): { codes: string[]; message: string } {
  if (typeof body === 'string') {
    const t = body.trim();
    if (t.startsWith('{') || t.startsWith('[')) {
      try {
        return errorSignals(JSON.parse(t) as unknown);
      } catch {
        return { codes: [], message: t.slice(0, 2000) };
      }
    }
    return { codes: [], message: t.slice(0, 2000) };
  }
  // Gemini sometimes wraps the error in a one-element array.
  if (Array.isArray(body)) return body.length > 0 ? errorSignals(body[0]) : { codes: [], message: '' };
  if (!isRecord(body)) return { codes: [], message: '' };
  const codes: string[] = [];
  const messages: string[] = [];
  const err = isRecord(body['error']) ? body['error'] : body;
  // Most specific first: code, then (Gemini) status, then type.
  // Gemini details: [{ "@type": "...ErrorInfo", "reason": "API_KEY_INVALID" }] — the most specific signal it sends.
  if (Array.isArray(err['details'])) {
    for (const d of err['details']) if (isRecord(d) && typeof d['reason'] === 'string') codes.push(d['reason']);
  }
  for (const f of ['code', 'status', 'type']) {
    const v = err[f];
    if (typeof v === 'string' && v !== '' && v !== 'error') codes.push(v);
  }
  if (typeof err['message'] === 'string') messages.unshift(err['message']);
  if (typeof body['message'] === 'string' && err !== body) messages.push(body['message']);
  return { codes, message: messages.join(' ').slice(0, 2000) };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
