import type { FastifyReply } from 'fastify';
import type { ResolvedKey } from '../auth/key-cache';
import { GatewayError } from '../errors/gateway-error';
import type { ClusterRateLimiter } from './cluster-rate-limiter';
import { rateLimitHeaders } from './rate-limit-headers';

/**
 * Admits a request against its key's RPM/TPM limits: sets the rate-limit
 * headers, or throws a 429 with Retry-After when over. Keys without limits
 * cost nothing.
 */
export async function admitOrThrow(limiter: ClusterRateLimiter, key: ResolvedKey, reply: FastifyReply): Promise<void> {
  if (!key.rpm && !key.tpm) return;
  const admission = await limiter.admit(key);
  const headers = rateLimitHeaders(admission.states);
  if (!admission.allowed) {
    const s = admission.states[0]!;
    throw new GatewayError('rate_limited', {
      message: `Rate limit reached for this API key: ${s.limit} ${s.dimension} per minute. Retry after the window resets.`,
      headers: { ...headers, 'retry-after': String(Math.max(1, Math.ceil(s.resetMs / 1000))) },
    });
  }
  void reply.headers(headers);
}
