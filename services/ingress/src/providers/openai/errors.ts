import { classifyUpstreamError } from '@switchyard/routing';
import { GatewayError } from '../../errors/gateway-error';

/**
 * The gateway error for an upstream's error response, classified by the
 * routing core from the status, the provider's error type/code, body
 * keywords and Retry-After.
 */
export function upstreamErrorFromResponse(
  status: number,
  rawBody: string,
  headers: Record<string, string | string[] | undefined>,
  provider: string,
  channelId: string,
): GatewayError {
  let body: unknown;
  try {
    body = JSON.parse(rawBody);
  } catch {
    body = rawBody;
  }
  const c = classifyUpstreamError({ status, body, headers }, Date.now());
  const errorClass = c.error_class;
  const common = { upstreamStatus: status, errorClass, provider, channelId, retryAfterMs: c.retry_after_ms };
  if (errorClass === 'permanent') {
    // The upstream's verdict on the client's own request: pass it through.
    return new GatewayError('invalid_request', {
      message: `upstream rejected the request (${status})`,
      status: status >= 400 && status < 500 ? status : 400,
      upstreamBody: typeof body === 'object' ? body : undefined,
      ...common,
    });
  }
  if (errorClass === 'rate_limit') {
    return new GatewayError('upstream_rate_limited', {
      message: 'All channels for this model are rate limited; retry later.',
      retryable: true,
      code: 'rate_limit_exceeded',
      ...common,
    });
  }
  // Auth and quota failures are the channel's problem, not the client's: never
  // show the upstream's message (it may describe the operator's credential).
  return new GatewayError('upstream_error', {
    message: `The upstream provider failed (status ${status}).`,
    retryable: true,
    code: 'upstream_error',
    ...common,
  });
}
