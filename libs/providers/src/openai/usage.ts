import type { CanonicalUsage } from '../canonical/response.types';
import type { OpenAIUsage } from './types';

const n = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0);

/**
 * Canonical usage from an OpenAI `usage` object: `prompt_tokens` already
 * includes the cached ones and `completion_tokens` the reasoning ones.
 * Null when absent or malformed.
 */
export function readOpenAIUsage(usage: unknown): CanonicalUsage | null {
  if (!usage || typeof usage !== 'object') return null;
  const u = usage as Partial<OpenAIUsage>;
  if (typeof u.prompt_tokens !== 'number' && typeof u.completion_tokens !== 'number') return null;
  return {
    input: n(u.prompt_tokens),
    output: n(u.completion_tokens),
    cachedInput: n(u.prompt_tokens_details?.cached_tokens),
    cacheWrite: 0,
    reasoning: n(u.completion_tokens_details?.reasoning_tokens),
  };
}

export function toOpenAIUsage(u: CanonicalUsage): OpenAIUsage {
  return {
    prompt_tokens: u.input,
    completion_tokens: u.output,
    total_tokens: u.input + u.output,
    prompt_tokens_details: { cached_tokens: u.cachedInput },
    completion_tokens_details: { reasoning_tokens: u.reasoning },
  };
}
