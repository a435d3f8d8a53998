import { CLIENT_PROTOCOLS, type CanonicalError, type ClientProtocolId, type ErrorKind } from '@switchyard/providers';
import type { GatewayError, GatewayErrorKind } from '../errors/gateway-error';
import { toOpenAIError } from '../errors/openai-error';

const CANONICAL_KIND: Record<GatewayErrorKind, ErrorKind> = {
  invalid_request: 'invalid_request',
  unauthenticated: 'authentication',
  permission_denied: 'permission',
  model_not_found: 'not_found',
  not_found: 'not_found',
  payload_too_large: 'request_too_large',
  upstream_unreachable: 'server',
  upstream_timeout: 'timeout',
  upstream_error: 'server',
  upstream_rate_limited: 'rate_limit',
  rate_limited: 'rate_limit',
  insufficient_quota: 'permission',
  no_channel: 'overloaded',
  dependency_unavailable: 'overloaded',
  internal: 'server',
};

/**
 * The one place a gateway error becomes the caller's protocol error: OpenAI
 * `{"error":{message,type,param,code}}`, Anthropic `{"type":"error","error":{type,message}}`,
 * Gemini `{"error":{code,message,status}}` — always with the gateway's status.
 */
export function renderClientError(protocol: ClientProtocolId, err: GatewayError): { status: number; body: unknown } {
  // The Responses API shares Chat Completions' error shape.
  if (protocol === 'openai' || protocol === 'openai-responses') return { status: err.status, body: toOpenAIError(err) };
  const rendered = CLIENT_PROTOCOLS[protocol].renderError(toCanonicalError(err));
  // Gemini's body repeats the HTTP status as `code`: keep them equal.
  if (protocol === 'gemini') (rendered.body as { error: { code: number } }).error.code = err.status;
  // Out of money: Anthropic says billing_error (402), Gemini RESOURCE_EXHAUSTED (its quota status).
  if (err.kind === 'insufficient_quota') {
    if (protocol === 'anthropic') (rendered.body as { error: { type: string } }).error.type = 'billing_error';
    if (protocol === 'gemini') (rendered.body as { error: { status: string } }).error.status = 'RESOURCE_EXHAUSTED';
  }
  return { status: err.status, body: rendered.body };
}

export function toCanonicalError(err: GatewayError): CanonicalError {
  const openai = toOpenAIError(err).error;
  return {
    kind: CANONICAL_KIND[err.kind],
    status: err.status,
    message: openai.message,
    param: openai.param ?? undefined,
    code: openai.code ?? undefined,
  };
}
