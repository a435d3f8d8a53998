import type { ErrorClass } from '@switchyard/contracts';
import { GatewayError } from '../../errors/gateway-error';

interface OpenAIErrorShape {
  error?: { message?: unknown; type?: unknown; code?: unknown };
}

/**
 * Classifies an upstream error response from its status and the provider's
 * error type/code: what kind of failure it is and whether another channel
 * could still serve the request.
 */
export function classifyUpstreamError(status: number, body: unknown): ErrorClass {
  const e = (body as OpenAIErrorShape | undefined)?.error;
  const code = typeof e?.code === 'string' ? e.code : '';
  const type = typeof e?.type === 'string' ? e.type : '';
  if (code === 'insufficient_quota' || type === 'insufficient_quota' || status === 402) return 'quota';
  if (status === 401 || status === 403) return 'auth';
  if (status === 429) return 'rate_limit';
  if (status >= 500) return 'transient';
  if (status === 408) return 'timeout';
  if (status >= 400) return 'permanent';
  return 'unknown';
}

/** The gateway error for an upstream's error response. */
export function upstreamErrorFromResponse(status: number, rawBody: string, provider: string, channelId: string): GatewayError {
  let body: unknown;
  try {
    body = JSON.parse(rawBody);
  } catch {
    body = undefined;
  }
  const errorClass = classifyUpstreamError(status, body);
  const retryable = errorClass !== 'permanent';
  if (errorClass === 'permanent') {
    // The upstream's verdict on the client's own request: pass it through.
    return new GatewayError('invalid_request', {
      message: `upstream rejected the request (${status})`,
      status,
      upstreamBody: body,
      upstreamStatus: status,
      errorClass,
      provider,
      channelId,
    });
  }
  if (errorClass === 'rate_limit') {
    return new GatewayError('upstream_rate_limited', {
      message: 'All channels for this model are rate limited; retry later.',
      upstreamStatus: status,
      errorClass,
      retryable,
      provider,
      channelId,
      code: 'rate_limit_exceeded',
    });
  }
  // Auth and quota failures are the channel's problem, not the client's: never
  // show the upstream's message (it may describe the operator's credential).
  return new GatewayError('upstream_error', {
    message: `The upstream provider failed (status ${status}).`,
    upstreamStatus: status,
    errorClass,
    retryable,
    provider,
    channelId,
    code: 'upstream_error',
  });
}
