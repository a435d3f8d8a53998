import type { LimitState } from './cluster-rate-limiter';

/** OpenAI's rate-limit headers, so SDKs and clients that read them keep working. */
export function rateLimitHeaders(states: readonly LimitState[]): Record<string, string> {
  const h: Record<string, string> = {};
  for (const s of states) {
    h[`x-ratelimit-limit-${s.dimension}`] = String(s.limit);
    h[`x-ratelimit-remaining-${s.dimension}`] = String(s.remaining);
    h[`x-ratelimit-reset-${s.dimension}`] = `${Math.max(0, Math.ceil(s.resetMs / 1000))}s`;
  }
  return h;
}
