import type { CanonicalRequest } from '@switchyard/providers';

/**
 * Token estimates for when an upstream reports no usage — a stream cut short,
 * a client gone, a provider that sends none. Events built on them carry
 * `usage_estimated: true`.
 *
 * `o200k` counts with OpenAI's o200k_base BPE (gpt-tokenizer): exact for the
 * GPT-4o/o-series family and within a few percent for other modern tokenizers
 * on English text (Anthropic and Google publish no offline tokenizer). It
 * costs ~35 MB of heap once, so `chars` (4 characters a token) stays
 * available for operators who would rather save the memory.
 */
export type TokenizerKind = 'o200k' | 'chars';
export const TOKENIZER_KINDS: readonly TokenizerKind[] = ['o200k', 'chars'];

export interface TokenCounter {
  readonly kind: TokenizerKind;
  count(text: string): number;
}

const charsCounter: TokenCounter = { kind: 'chars', count: (text) => estimateTokensFromChars(text.length) };

export function createTokenCounter(kind: TokenizerKind): TokenCounter {
  if (kind === 'chars') return charsCounter;
  // Loaded here, not at import: a `chars` ingress never pays for the BPE tables.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const bpe = require('gpt-tokenizer/encoding/o200k_base') as { countTokens(text: string): number };
  return { kind, count: (text) => (text.length === 0 ? 0 : bpe.countTokens(text)) };
}

export function estimateTokensFromChars(chars: number): number {
  return chars <= 0 ? 0 : Math.ceil(chars / 4);
}

/** OpenAI's accounting for chat framing: tokens per message, and the reply's priming. */
const TOKENS_PER_MESSAGE = 3;
const TOKENS_REPLY_PRIMING = 3;
/** An image part, at OpenAI's low-detail rate: a floor, not a measurement. */
const TOKENS_PER_IMAGE = 85;

/** Estimated prompt tokens of Chat Completions messages (text parts, names, tool calls, images). */
export function estimatePromptTokens(messages: unknown, counter: TokenCounter): number {
  if (!Array.isArray(messages)) return 0;
  let n = TOKENS_REPLY_PRIMING;
  for (const m of messages as Array<Record<string, unknown>>) {
    n += TOKENS_PER_MESSAGE;
    if (typeof m?.name === 'string') n += counter.count(m.name);
    const content = m?.content;
    if (typeof content === 'string') n += counter.count(content);
    else if (Array.isArray(content)) {
      for (const part of content as Array<Record<string, unknown>>) {
        if (typeof part?.text === 'string') n += counter.count(part.text);
        else if (part?.type === 'image_url' || part?.type === 'input_image') n += TOKENS_PER_IMAGE;
      }
    }
    if (Array.isArray(m?.tool_calls)) {
      for (const call of m.tool_calls as Array<{ function?: { name?: unknown; arguments?: unknown } }>) {
        if (typeof call?.function?.name === 'string') n += counter.count(call.function.name);
        if (typeof call?.function?.arguments === 'string') n += counter.count(call.function.arguments);
      }
    }
  }
  return n;
}

/**
 * Estimated prompt tokens of a canonical request (system, text, tool calls
 * and results, images): surfaces whose bodies are not Chat Completions
 * messages (Anthropic, Gemini `contents`, Responses `input`).
 */
export function estimateCanonicalPromptTokens(req: CanonicalRequest, counter: TokenCounter): number {
  let n = TOKENS_REPLY_PRIMING + (req.system ? TOKENS_PER_MESSAGE + counter.count(req.system) : 0);
  for (const m of req.messages) {
    n += TOKENS_PER_MESSAGE;
    for (const p of m.content) {
      if (p.type === 'text' || p.type === 'thinking') n += counter.count(p.text);
      else if (p.type === 'image') n += TOKENS_PER_IMAGE;
      else if (p.type === 'tool_call') n += counter.count(p.name) + counter.count(p.arguments);
      else if (p.type === 'tool_result') for (const c of p.content) if (c.type === 'text') n += counter.count(c.text);
    }
  }
  return n;
}

/** Prompt tokens of a chat request on any surface: from its canonical form when it was parsed, else its Chat Completions messages. */
export function estimateViewPromptTokens(view: { body: Record<string, unknown>; canonical?: CanonicalRequest }, counter: TokenCounter): number {
  return view.canonical ? estimateCanonicalPromptTokens(view.canonical, counter) : estimatePromptTokens(view.body.messages, counter);
}

/** Estimated tokens of plain prompt text (legacy completions, embeddings input). */
export function estimateTextTokens(text: string | readonly string[], counter: TokenCounter): number {
  if (typeof text === 'string') return counter.count(text);
  let n = 0;
  for (const t of text) n += counter.count(t);
  return n;
}

/**
 * Generated text of one stream, kept for an estimate. The first SAMPLE_CHARS
 * are kept verbatim and tokenized only if an estimate is asked for; beyond
 * them only the length is, extrapolated at the sample's own characters per
 * token — so a long stream costs bounded memory and no tokenizing at all when
 * the upstream reports usage (the common case).
 */
export class OutputTally {
  static readonly SAMPLE_CHARS = 4096;
  private readonly sample: string[] = [];
  private sampleChars = 0;
  /** Characters generated so far (text, thinking, tool-call arguments). */
  chars = 0;

  push(text: string): void {
    this.chars += text.length;
    if (this.sampleChars < OutputTally.SAMPLE_CHARS) {
      const room = OutputTally.SAMPLE_CHARS - this.sampleChars;
      const kept = text.length <= room ? text : text.slice(0, room);
      this.sample.push(kept);
      this.sampleChars += kept.length;
    }
  }

  tokens(counter: TokenCounter): number {
    if (this.chars === 0) return 0;
    const sampled = counter.count(this.sample.join(''));
    if (this.chars === this.sampleChars) return sampled;
    return sampled + Math.ceil(((this.chars - this.sampleChars) * sampled) / this.sampleChars);
  }
}
