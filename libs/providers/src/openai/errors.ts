import { kindOfStatus, statusOfKind, type CanonicalError, type ErrorKind, type ValidationError } from '../canonical/error.types';
import type { WireEvent } from '../canonical/stream.types';
import type { OpenAIErrorBody } from './types';

const TYPE_OF_KIND: Record<ErrorKind, string> = {
  invalid_request: 'invalid_request_error',
  authentication: 'authentication_error',
  permission: 'permission_error',
  not_found: 'invalid_request_error',
  request_too_large: 'invalid_request_error',
  rate_limit: 'rate_limit_error',
  overloaded: 'server_error',
  server: 'server_error',
  timeout: 'timeout',
  truncated: 'server_error',
};

/** Reads an OpenAI error response (`{"error":{message,type,param,code}}`) into a canonical error. */
export function parseOpenAIError(status: number, body: unknown): CanonicalError {
  const e = typeof body === 'object' && body !== null ? (body as { error?: Record<string, unknown> }).error : undefined;
  const type = typeof e?.type === 'string' ? e.type : undefined;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  let kind = kindOfStatus(status);
  if (code === 'insufficient_quota' || type === 'insufficient_quota') kind = 'permission';
  const out: CanonicalError = { kind, status, message: typeof e?.message === 'string' ? e.message : `upstream error (HTTP ${status})` };
  if (type !== undefined) out.providerType = type;
  if (typeof e?.param === 'string') out.param = e.param;
  if (code !== undefined) out.code = code;
  return out;
}

/** The status and body to send an OpenAI client. 529 (Anthropic's overloaded) becomes 503. */
export function renderOpenAIError(err: CanonicalError): { status: number; body: OpenAIErrorBody } {
  const status = err.status === 529 ? 503 : err.status || statusOfKind(err.kind);
  return { status, body: { error: { message: err.message, type: TYPE_OF_KIND[err.kind], param: err.param ?? null, code: err.code ?? null } } };
}

export function renderOpenAIValidationError(err: ValidationError): { status: number; body: OpenAIErrorBody } {
  return { status: 400, body: { error: { message: err.message, type: 'invalid_request_error', param: err.field, code: err.code } } };
}

/** The stream event that ends an OpenAI stream on failure: a `data:` event with an error body. */
export function openAIStreamErrorEvent(err: CanonicalError): WireEvent {
  return { data: renderOpenAIError(err).body };
}
