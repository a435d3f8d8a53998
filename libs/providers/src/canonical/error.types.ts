/**
 * A provider error in one shape: what kind of failure, the HTTP status it
 * maps to, and a message safe to show the client.
 */
export type ErrorKind =
  | 'invalid_request'
  | 'authentication'
  | 'permission'
  | 'not_found'
  | 'request_too_large'
  | 'rate_limit'
  | 'overloaded'
  | 'server'
  | 'timeout'
  /** The upstream stream ended before it finished. */
  | 'truncated';

export interface CanonicalError {
  kind: ErrorKind;
  /** HTTP status this error maps to. */
  status: number;
  message: string;
  /** The provider's own error type/status string (e.g. `overloaded_error`, `RESOURCE_EXHAUSTED`). */
  providerType?: string;
  /** The request field at fault, when known. */
  param?: string;
  code?: string;
}

const KIND_STATUS: Record<ErrorKind, number> = {
  invalid_request: 400,
  authentication: 401,
  permission: 403,
  not_found: 404,
  request_too_large: 413,
  rate_limit: 429,
  overloaded: 529,
  server: 500,
  timeout: 504,
  truncated: 502,
};

export function statusOfKind(kind: ErrorKind): number {
  return KIND_STATUS[kind];
}

/** The kind of failure an HTTP status alone says. */
export function kindOfStatus(status: number): ErrorKind {
  if (status === 400 || status === 422) return 'invalid_request';
  if (status === 401) return 'authentication';
  if (status === 402 || status === 403) return 'permission';
  if (status === 404) return 'not_found';
  if (status === 413) return 'request_too_large';
  if (status === 429) return 'rate_limit';
  if (status === 529 || status === 503) return 'overloaded';
  if (status === 408 || status === 504) return 'timeout';
  if (status >= 500) return 'server';
  return 'invalid_request';
}

/**
 * A client request that does not validate. `field` is the path of the
 * offending field (`messages[2].role`); render it with the client
 * protocol's error function, status 400.
 */
export class ValidationError extends Error {
  readonly status = 400;
  constructor(
    readonly field: string,
    message: string,
    readonly code: 'invalid_type' | 'missing_required_parameter' | 'invalid_value' | 'image_too_large' | 'unsupported_parameter' = 'invalid_value',
  ) {
    super(message);
    this.name = 'ValidationError';
  }

  toCanonical(): CanonicalError {
    return { kind: 'invalid_request', status: 400, message: this.message, param: this.field, code: this.code };
  }
}
