import type { RedactedThinkingPart, TextPart, ThinkingPart, ToolCallPart } from './request.types';

/** Why generation stopped, normalised across providers. */
export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'error';

/**
 * Token usage in one convention for every provider:
 * - `input` is every prompt token, cached and cache-written ones included;
 *   `cachedInput` (read from cache) and `cacheWrite` are parts of it.
 * - `output` is every generated token, reasoning included; `reasoning` is part of it.
 */
export interface CanonicalUsage {
  input: number;
  output: number;
  cachedInput: number;
  cacheWrite: number;
  reasoning: number;
}

export type ResponsePart = TextPart | ThinkingPart | RedactedThinkingPart | ToolCallPart;

export interface CanonicalResponse {
  id: string;
  /** The model the upstream says it served. */
  model: string;
  content: ResponsePart[];
  finishReason: FinishReason;
  /** The provider's own stop reason, for logs (e.g. `end_turn`, `MAX_TOKENS`). */
  rawFinishReason: string | null;
  usage: CanonicalUsage | null;
}

export const ZERO_USAGE: Readonly<CanonicalUsage> = Object.freeze({ input: 0, output: 0, cachedInput: 0, cacheWrite: 0, reasoning: 0 });
