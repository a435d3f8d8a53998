import type { TokenUsage } from '@switchyard/contracts';

interface OpenAIUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
  completion_tokens_details?: { reasoning_tokens?: number } | null;
}

const nonNeg = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0);

/** Token usage from an OpenAI `usage` object; null when the object is absent or malformed. */
export function readOpenAIUsage(usage: unknown): TokenUsage | null {
  if (!usage || typeof usage !== 'object') return null;
  const u = usage as OpenAIUsage;
  if (typeof u.prompt_tokens !== 'number' && typeof u.completion_tokens !== 'number') return null;
  return {
    input_tokens: nonNeg(u.prompt_tokens),
    output_tokens: nonNeg(u.completion_tokens),
    cached_input_tokens: nonNeg(u.prompt_tokens_details?.cached_tokens),
    reasoning_tokens: nonNeg(u.completion_tokens_details?.reasoning_tokens),
  };
}
