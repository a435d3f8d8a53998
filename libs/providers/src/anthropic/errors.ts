import { kindOfStatus, type CanonicalError, type ErrorKind, type ValidationError } from '../canonical/error.types';
import type { WireEvent } from '../canonical/stream.types';
import type { AnthropicErrorBody } from './types';

const KIND_OF_TYPE: Record<string, ErrorKind> = {
  invalid_request_error: 'invalid_request',
  authentication_error: 'authentication',
  permission_error: 'permission',
  billing_error: 'permission',
  not_found_error: 'not_found',
  request_too_large: 'request_too_large',
  rate_limit_error: 'rate_limit',
  api_error: 'server',
  overloaded_error: 'overloaded',
  timeout_error: 'timeout',
};

const TYPE_OF_KIND: Record<ErrorKind, [string, number]> = {
  invalid_request: ['invalid_request_error', 400],
  authentication: ['authentication_error', 401],
  permission: ['permission_error', 403],
  not_found: ['not_found_error', 404],
  request_too_large: ['request_too_large', 413],
  rate_limit: ['rate_limit_error', 429],
  overloaded: ['overloaded_error', 529],
  server: ['api_error', 500],
  timeout: ['timeout_error', 504],
  truncated: ['api_error', 502],
};

/** Reads an Anthropic error (`{"type":"error","error":{"type","message"}}`), from a response or a stream `error` event. */
export function parseAnthropicError(status: number, body: unknown): CanonicalError {
  const e = typeof body === 'object' && body !== null ? (body as { error?: Record<string, unknown> }).error : undefined;
  const type = typeof e?.type === 'string' ? e.type : undefined;
  const kind = (type !== undefined ? KIND_OF_TYPE[type] : undefined) ?? kindOfStatus(status);
  const out: CanonicalError = { kind, status, message: typeof e?.message === 'string' ? e.message : `upstream error (HTTP ${status})` };
  if (type !== undefined) out.providerType = type;
  return out;
}

/** The status and body to send an Anthropic client. */
export function renderAnthropicError(err: CanonicalError): { status: number; body: AnthropicErrorBody } {
  const [type, defaultStatus] = TYPE_OF_KIND[err.kind];
  return { status: err.status || defaultStatus, body: { type: 'error', error: { type, message: err.message } } };
}

export function renderAnthropicValidationError(err: ValidationError): { status: number; body: AnthropicErrorBody } {
  return { status: 400, body: { type: 'error', error: { type: 'invalid_request_error', message: `${err.field}: ${err.message}` } } };
}

/** `event: error` with the error body: how an Anthropic stream fails. */
export function anthropicStreamErrorEvent(err: CanonicalError): WireEvent {
  return { event: 'error', data: renderAnthropicError(err).body };
}
