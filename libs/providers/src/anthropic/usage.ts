import type { CanonicalUsage } from '../canonical/response.types';
import type { AnthropicUsage } from './types';

const n = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0);

/**
 * Anthropic's `input_tokens` excludes cache reads and writes; canonical
 * `input` includes them. Null when the object is absent or malformed.
 */
export function readAnthropicUsage(usage: unknown): CanonicalUsage | null {
  if (!usage || typeof usage !== 'object') return null;
  const u = usage as Partial<AnthropicUsage>;
  if (typeof u.input_tokens !== 'number' && typeof u.output_tokens !== 'number') return null;
  const cacheRead = n(u.cache_read_input_tokens);
  const cacheWrite = n(u.cache_creation_input_tokens);
  return { input: n(u.input_tokens) + cacheRead + cacheWrite, output: n(u.output_tokens), cachedInput: cacheRead, cacheWrite, reasoning: 0 };
}

/**
 * Anthropic stream usage is cumulative: `message_start` carries the input
 * side, each `message_delta` the output so far (and, on newer API versions,
 * the input side again). Fields present in a later event replace earlier
 * ones; nothing is ever added up.
 */
export class AnthropicUsageTracker {
  private input = 0;
  private output = 0;
  private cacheRead = 0;
  private cacheWrite = 0;
  private seen = false;

  merge(usage: unknown): CanonicalUsage | null {
    if (!usage || typeof usage !== 'object') return this.current();
    const u = usage as Partial<AnthropicUsage>;
    if (typeof u.input_tokens === 'number') {
      this.input = n(u.input_tokens);
      this.seen = true;
    }
    if (typeof u.output_tokens === 'number') {
      this.output = n(u.output_tokens);
      this.seen = true;
    }
    if (typeof u.cache_read_input_tokens === 'number') this.cacheRead = n(u.cache_read_input_tokens);
    if (typeof u.cache_creation_input_tokens === 'number') this.cacheWrite = n(u.cache_creation_input_tokens);
    return this.current();
  }

  current(): CanonicalUsage | null {
    if (!this.seen) return null;
    return { input: this.input + this.cacheRead + this.cacheWrite, output: this.output, cachedInput: this.cacheRead, cacheWrite: this.cacheWrite, reasoning: 0 };
  }
}

export function toAnthropicUsage(u: CanonicalUsage): Required<AnthropicUsage> {
  return {
    input_tokens: Math.max(0, u.input - u.cachedInput - u.cacheWrite),
    output_tokens: u.output,
    cache_creation_input_tokens: u.cacheWrite,
    cache_read_input_tokens: u.cachedInput,
  };
}
