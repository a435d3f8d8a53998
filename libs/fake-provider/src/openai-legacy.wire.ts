/**
 * Wire shapes of OpenAI's Embeddings and legacy Completions endpoints for the
 * fake upstream. Everything is deterministic: the same input always gives the
 * same vector and the same token counts, so tests can predict them.
 */
import { countWords } from './tokens';
import type { ResolvedBehavior } from './script';

/** Vector length when the request does not ask for `dimensions`. */
export const DEFAULT_EMBEDDING_DIMENSIONS = 16;

/** One input of `/v1/embeddings` or one prompt of `/v1/completions`: text or token ids. */
export type TextOrTokens = string | number[];

/**
 * The inputs of an `input` (embeddings) or `prompt` (completions) field:
 * a string, an array of strings, an array of token ids or an array of such
 * arrays. Null when the value is none of these.
 */
export function readInputs(v: unknown): TextOrTokens[] | null {
  if (typeof v === 'string') return [v];
  if (!Array.isArray(v) || v.length === 0) return null;
  if (v.every((x) => typeof x === 'number')) return [v as number[]];
  if (v.every((x) => typeof x === 'string')) return v as string[];
  if (v.every((x) => Array.isArray(x) && x.length > 0 && x.every((n) => typeof n === 'number'))) return v as number[][];
  return null;
}

/** Tokens of one input: its words (at least 1), or the number of token ids. */
export function inputTokens(input: TextOrTokens): number {
  if (typeof input !== 'string') return input.length;
  const n = countWords(input);
  return n < 1 ? 1 : n;
}

/** FNV-1a over the input's text (or its token ids joined). */
function hash(input: TextOrTokens): number {
  const s = typeof input === 'string' ? input : input.join(',');
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * A unit-length vector derived from the input alone, with float32 values
 * (so the `float` and `base64` encodings decode to the same numbers).
 */
export function embeddingVector(input: TextOrTokens, dimensions: number): number[] {
  let a = hash(input);
  const raw: number[] = [];
  for (let i = 0; i < dimensions; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    raw.push(((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5);
  }
  const norm = Math.sqrt(raw.reduce((s, x) => s + x * x, 0)) || 1;
  return raw.map((x) => Math.fround(x / norm));
}

/** Little-endian float32 bytes, base64: what OpenAI sends for `encoding_format: "base64"`. */
export function base64Vector(v: readonly number[]): string {
  const buf = Buffer.alloc(v.length * 4);
  v.forEach((x, i) => buf.writeFloatLE(x, i * 4));
  return buf.toString('base64');
}

export function embeddingsJson(model: string, inputs: readonly TextOrTokens[], dimensions: number, base64: boolean): string {
  let promptTokens = 0;
  const data = inputs.map((input, index) => {
    promptTokens += inputTokens(input);
    const v = embeddingVector(input, dimensions);
    return { object: 'embedding', index, embedding: base64 ? base64Vector(v) : v };
  });
  return JSON.stringify({ object: 'list', data, model, usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } });
}

export interface TextCompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** Usage of a legacy completion: one answer of `chunks` tokens per prompt. */
export function textCompletionUsage(prompts: readonly TextOrTokens[], b: ResolvedBehavior): TextCompletionUsage {
  const prompt = prompts.reduce((s, p) => s + inputTokens(p), 0);
  const completion = b.chunks * prompts.length;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** A whole `text_completion` object: one choice per prompt, text = chunkText × chunks. */
export function textCompletionJson(id: string, created: number, model: string, prompts: readonly TextOrTokens[], b: ResolvedBehavior): string {
  return JSON.stringify({
    id,
    object: 'text_completion',
    created,
    model,
    system_fingerprint: null,
    choices: prompts.map((_, index) => ({ text: b.chunkText.repeat(b.chunks), index, logprobs: null, finish_reason: 'stop' })),
    usage: textCompletionUsage(prompts, b),
  });
}

/**
 * The SSE events of a streamed legacy completion, in order: per prompt
 * `chunks` text chunks and a finish chunk, then (with include_usage) a chunk
 * with `choices: []` and the usage, then `[DONE]`. With include_usage every
 * other chunk carries `"usage":null`, as OpenAI does.
 */
export function textCompletionEvents(
  id: string,
  created: number,
  model: string,
  prompts: readonly TextOrTokens[],
  b: ResolvedBehavior,
  includeUsage: boolean,
): string[] {
  const chunk = (choices: unknown[], usage?: TextCompletionUsage | null): string => {
    const o: Record<string, unknown> = { id, object: 'text_completion', created, model, system_fingerprint: null, choices };
    if (usage !== undefined) o.usage = usage;
    return `data: ${JSON.stringify(o)}\n\n`;
  };
  const none = includeUsage ? null : undefined;
  const out: string[] = [];
  prompts.forEach((_, index) => {
    for (let i = 0; i < b.chunks; i++) out.push(chunk([{ text: b.chunkText, index, logprobs: null, finish_reason: null }], none));
    out.push(chunk([{ text: '', index, logprobs: null, finish_reason: 'stop' }], none));
  });
  if (includeUsage) out.push(chunk([], textCompletionUsage(prompts, b)));
  out.push('data: [DONE]\n\n');
  return out;
}
