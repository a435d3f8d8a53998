import { GatewayError, type GatewayErrorKind } from './gateway-error';

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

const TYPE: Record<GatewayErrorKind, string> = {
  invalid_request: 'invalid_request_error',
  unauthenticated: 'invalid_request_error',
  permission_denied: 'permission_error',
  model_not_found: 'invalid_request_error',
  not_found: 'invalid_request_error',
  payload_too_large: 'invalid_request_error',
  upstream_unreachable: 'upstream_error',
  upstream_timeout: 'timeout_error',
  upstream_error: 'upstream_error',
  upstream_rate_limited: 'rate_limit_error',
  rate_limited: 'rate_limit_error',
  insufficient_quota: 'insufficient_quota',
  no_channel: 'service_unavailable_error',
  dependency_unavailable: 'service_unavailable_error',
  internal: 'server_error',
};

const DEFAULT_CODE: Partial<Record<GatewayErrorKind, string>> = {
  unauthenticated: 'invalid_api_key',
  model_not_found: 'model_not_found',
  payload_too_large: 'request_too_large',
  upstream_timeout: 'timeout',
  upstream_unreachable: 'upstream_unreachable',
  rate_limited: 'rate_limit_exceeded',
  insufficient_quota: 'insufficient_quota',
};

/**
 * The OpenAI error body for a gateway error. An upstream's own client error
 * (400 with its message) passes through when it is already OpenAI-shaped.
 * Never includes credentials: upstream bodies are shown only when they are
 * the upstream's verdict on the client's request.
 */
export function toOpenAIError(err: GatewayError): OpenAIErrorBody {
  const ub = err.upstreamBody as Partial<OpenAIErrorBody> | undefined;
  if (ub && typeof ub === 'object' && ub.error && typeof ub.error.message === 'string') {
    return {
      error: {
        message: ub.error.message,
        type: typeof ub.error.type === 'string' ? ub.error.type : TYPE[err.kind],
        param: typeof ub.error.param === 'string' ? ub.error.param : null,
        code: typeof ub.error.code === 'string' ? ub.error.code : err.code,
      },
    };
  }
  return { error: { message: err.message, type: TYPE[err.kind], param: err.param, code: err.code ?? DEFAULT_CODE[err.kind] ?? null } };
}

/** Wraps anything thrown into a GatewayError without leaking internals to the client. */
export function asGatewayError(e: unknown): GatewayError {
  if (e instanceof GatewayError) return e;
  return new GatewayError('internal', { message: 'internal error', cause: e });
}
