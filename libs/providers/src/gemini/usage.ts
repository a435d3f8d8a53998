import type { CanonicalUsage } from '../canonical/response.types';
import type { GeminiUsageMetadata } from './types';

const n = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0);

/**
 * Canonical usage from `usageMetadata`. `promptTokenCount` includes the
 * cached tokens; `candidatesTokenCount` excludes the thoughts, so output is
 * candidates + thoughts. Null when absent or malformed.
 */
export function readGeminiUsage(meta: unknown): CanonicalUsage | null {
  if (!meta || typeof meta !== 'object') return null;
  const u = meta as GeminiUsageMetadata;
  if (typeof u.promptTokenCount !== 'number' && typeof u.candidatesTokenCount !== 'number' && typeof u.totalTokenCount !== 'number') return null;
  const thoughts = n(u.thoughtsTokenCount);
  return {
    input: n(u.promptTokenCount) + n(u.toolUsePromptTokenCount),
    output: n(u.candidatesTokenCount) + thoughts,
    cachedInput: n(u.cachedContentTokenCount),
    cacheWrite: 0,
    reasoning: thoughts,
  };
}

export function toGeminiUsage(u: CanonicalUsage): GeminiUsageMetadata {
  const out: GeminiUsageMetadata = {
    promptTokenCount: u.input,
    candidatesTokenCount: Math.max(0, u.output - u.reasoning),
    totalTokenCount: u.input + u.output,
  };
  if (u.cachedInput > 0) out.cachedContentTokenCount = u.cachedInput;
  if (u.reasoning > 0) out.thoughtsTokenCount = u.reasoning;
  return out;
}
