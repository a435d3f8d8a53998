import { kindOfStatus, type CanonicalError, type ErrorKind, type ValidationError } from '../canonical/error.types';
import type { WireEvent } from '../canonical/stream.types';
import type { GeminiErrorBody } from './types';

const KIND_OF_STATUS: Record<string, ErrorKind> = {
  INVALID_ARGUMENT: 'invalid_request',
  FAILED_PRECONDITION: 'invalid_request',
  OUT_OF_RANGE: 'invalid_request',
  UNAUTHENTICATED: 'authentication',
  PERMISSION_DENIED: 'permission',
  NOT_FOUND: 'not_found',
  RESOURCE_EXHAUSTED: 'rate_limit',
  INTERNAL: 'server',
  UNKNOWN: 'server',
  UNAVAILABLE: 'overloaded',
  DEADLINE_EXCEEDED: 'timeout',
};

const STATUS_OF_KIND: Record<ErrorKind, [number, string]> = {
  invalid_request: [400, 'INVALID_ARGUMENT'],
  authentication: [401, 'UNAUTHENTICATED'],
  permission: [403, 'PERMISSION_DENIED'],
  not_found: [404, 'NOT_FOUND'],
  request_too_large: [400, 'INVALID_ARGUMENT'],
  rate_limit: [429, 'RESOURCE_EXHAUSTED'],
  overloaded: [503, 'UNAVAILABLE'],
  server: [500, 'INTERNAL'],
  timeout: [504, 'DEADLINE_EXCEEDED'],
  truncated: [500, 'INTERNAL'],
};

/** Reads a Gemini error (`{"error":{"code","message","status"}}`) from a response or a stream event. */
export function parseGeminiError(status: number, body: unknown): CanonicalError {
  const e = typeof body === 'object' && body !== null ? (body as { error?: Record<string, unknown> }).error : undefined;
  const s = typeof e?.status === 'string' ? e.status : undefined;
  const code = typeof e?.code === 'number' ? e.code : status;
  const kind = (s !== undefined ? KIND_OF_STATUS[s] : undefined) ?? kindOfStatus(code);
  const out: CanonicalError = { kind, status: code, message: typeof e?.message === 'string' ? e.message : `upstream error (HTTP ${code})` };
  if (s !== undefined) out.providerType = s;
  return out;
}

/** The status and body to send a Gemini client; the status follows Google's code for the kind. */
export function renderGeminiError(err: CanonicalError): { status: number; body: GeminiErrorBody } {
  const [code, status] = STATUS_OF_KIND[err.kind];
  return { status: code, body: { error: { code, message: err.message, status } } };
}

export function renderGeminiValidationError(err: ValidationError): { status: number; body: GeminiErrorBody } {
  return { status: 400, body: { error: { code: 400, message: `Invalid value at '${err.field}': ${err.message}`, status: 'INVALID_ARGUMENT' } } };
}

/**
 * A Gemini stream fails with the error body as a bare JSON chunk (not a
 * `data:` event): `@google/genai` turns exactly that into an ApiError.
 */
export function geminiStreamErrorEvent(err: CanonicalError): WireEvent {
  return { data: renderGeminiError(err).body, raw: true };
}
