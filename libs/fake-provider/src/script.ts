/**
 * Scripted behaviour of the fake upstream: what a test (or a benchmark run)
 * wants the next requests to look like. Plain data, validated once, and
 * resolved into a form the hot path can use without further checks.
 */
export interface FakeBehavior {
  /** Delay before the response headers, in ms (default 0). */
  latencyMs?: number;
  /** Each request's delay is latencyMs ± up to this (uniform), in ms: a latency distribution (default 0). */
  latencyJitterMs?: number;
  /** Streams: after the headers, before the first content chunk, in ms (default 0). */
  ttftMs?: number;
  /** Content chunks in a stream; also the visible completion tokens (default 20). */
  chunks?: number;
  /** Delay between content chunks, in ms (default 0). */
  chunkDelayMs?: number;
  /** Text of each content chunk (default "tok "); non-stream content is this repeated `chunks` times. */
  chunkText?: string;
  /** Respond with this HTTP status and an OpenAI error body of the matching type. */
  failStatus?: number;
  /** Override the error body (an object is sent as JSON, a string as-is). */
  failBody?: unknown;
  /** Sent as `Retry-After` on a failure (typically with 429 or 503). */
  retryAfterSeconds?: number;
  /**
   * Streams: destroy the socket after this many content chunks (a mid-stream
   * break; no finish chunk, no [DONE]). Non-stream: the socket is destroyed
   * without any response.
   */
  breakAfterChunks?: number;
  /** Accept the request and never answer (until the client aborts). */
  hang?: boolean;
  /** 0..1 probability that a request fails with `failStatus ?? 500` (seedable, see `seed`). */
  failRate?: number;
  /** Model reported back (default: the request's model). */
  model?: string;
  /** Reported in `usage.prompt_tokens_details.cached_tokens` (prompt_tokens is at least this). */
  cachedTokens?: number;
  /**
   * Anthropic fake: reported as `usage.cache_creation_input_tokens` (tokens
   * written to the prompt cache), taken out of `input_tokens` as Anthropic does.
   */
  cacheWriteTokens?: number;
  /** Reported in `usage.completion_tokens_details.reasoning_tokens`, and counted in completion_tokens. */
  reasoningTokens?: number;
  /**
   * Anthropic and Gemini fakes: thinking chunks streamed before the text
   * (a thinking block with a signature; Gemini `thought: true` parts), each
   * one reasoning token on top of `reasoningTokens`.
   */
  thinkingChunks?: number;
  /**
   * Tool calls the model makes after its text (OpenAI `tool_calls` with
   * streamed argument deltas; Anthropic `tool_use` blocks with
   * `input_json_delta`; Gemini `functionCall` parts). The finish becomes
   * tool calls; each costs TOOL_CALL_TOKENS completion tokens.
   */
  toolCalls?: FakeToolCall[];
  /**
   * Streams: after this many content chunks, send the protocol's mid-stream
   * error (OpenAI `data: {"error":…}` server_error; Anthropic `event: error`
   * overloaded_error; Gemini a bare JSON error object) and end the response
   * cleanly.
   */
  errorAfterChunks?: number;
  /**
   * OpenAI fake, streams with `toolCalls`: after the content, send the first
   * tool call's start and the first half of its arguments, then destroy the
   * socket (a break inside a tool call).
   */
  breakInToolCall?: boolean;
}

export interface FakeToolCall {
  name: string;
  arguments: Record<string, unknown>;
}

/** A behaviour with defaults applied and wire fragments precomputed. */
export interface ResolvedBehavior {
  readonly latencyMs: number;
  readonly latencyJitterMs: number;
  readonly ttftMs: number;
  readonly chunks: number;
  readonly chunkDelayMs: number;
  readonly chunkText: string;
  readonly failStatus: number | undefined;
  readonly failBody: unknown;
  readonly retryAfterSeconds: number | undefined;
  readonly breakAfterChunks: number | undefined;
  readonly hang: boolean;
  readonly failRate: number | undefined;
  readonly model: string | undefined;
  readonly cachedTokens: number;
  readonly cacheWriteTokens: number;
  readonly reasoningTokens: number;
  readonly thinkingChunks: number;
  readonly toolCalls: readonly FakeToolCall[];
  readonly errorAfterChunks: number | undefined;
  readonly breakInToolCall: boolean;
  /** JSON string literal of `chunkText`. */
  readonly chunkTextJson: string;
  /** JSON string literal of the whole non-stream content. */
  readonly contentJson: string;
}

type Check = (value: unknown) => string | null;

const nonNegative: Check = (v) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? null : 'a finite number >= 0');
const count: Check = (v) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? null : 'an integer >= 0');
const isString: Check = (v) => (typeof v === 'string' ? null : 'a string');

const CHECKS: Record<keyof FakeBehavior, Check> = {
  latencyMs: nonNegative,
  latencyJitterMs: nonNegative,
  ttftMs: nonNegative,
  chunks: count,
  chunkDelayMs: nonNegative,
  chunkText: isString,
  failStatus: (v) => (typeof v === 'number' && Number.isInteger(v) && v >= 400 && v <= 599 ? null : 'an HTTP error status (400..599)'),
  failBody: () => null,
  retryAfterSeconds: nonNegative,
  breakAfterChunks: count,
  hang: (v) => (typeof v === 'boolean' ? null : 'a boolean'),
  failRate: (v) => (typeof v === 'number' && v >= 0 && v <= 1 ? null : 'a number in 0..1'),
  model: isString,
  cachedTokens: count,
  cacheWriteTokens: count,
  reasoningTokens: count,
  thinkingChunks: count,
  toolCalls: (v) =>
    Array.isArray(v) &&
    v.every((c) => typeof c === 'object' && c !== null && typeof (c as FakeToolCall).name === 'string' && typeof (c as FakeToolCall).arguments === 'object' && (c as FakeToolCall).arguments !== null && !Array.isArray((c as FakeToolCall).arguments))
      ? null
      : 'an array of {name: string, arguments: object}',
  errorAfterChunks: count,
  breakInToolCall: (v) => (typeof v === 'boolean' ? null : 'a boolean'),
};

/**
 * Checks a behaviour coming from code, a header or a control request.
 * Unknown keys are refused so a typo (`ttft` for `ttftMs`) fails loudly
 * instead of silently scripting nothing.
 */
export function validateBehavior(input: unknown): FakeBehavior {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new TypeError('fake behavior must be a JSON object');
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    if (!Object.prototype.hasOwnProperty.call(CHECKS, key)) {
      throw new TypeError(`unknown fake behavior key "${key}"`);
    }
    if (value === undefined) continue;
    const problem = CHECKS[key as keyof FakeBehavior](value);
    if (problem) throw new TypeError(`fake behavior "${key}" must be ${problem}`);
    out[key] = value;
  }
  return out as FakeBehavior;
}

/** Parses the `x-fake-behavior` request header (JSON). Throws TypeError. */
export function parseBehaviorHeader(value: string): FakeBehavior {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new TypeError('x-fake-behavior header is not valid JSON');
  }
  return validateBehavior(parsed);
}

export function resolveBehavior(b: FakeBehavior): ResolvedBehavior {
  const chunks = b.chunks ?? 20;
  const chunkText = b.chunkText ?? 'tok ';
  return {
    latencyMs: b.latencyMs ?? 0,
    latencyJitterMs: b.latencyJitterMs ?? 0,
    ttftMs: b.ttftMs ?? 0,
    chunks,
    chunkDelayMs: b.chunkDelayMs ?? 0,
    chunkText,
    failStatus: b.failStatus,
    failBody: b.failBody,
    retryAfterSeconds: b.retryAfterSeconds,
    breakAfterChunks: b.breakAfterChunks,
    hang: b.hang ?? false,
    failRate: b.failRate,
    model: b.model,
    cachedTokens: b.cachedTokens ?? 0,
    cacheWriteTokens: b.cacheWriteTokens ?? 0,
    reasoningTokens: b.reasoningTokens ?? 0,
    thinkingChunks: b.thinkingChunks ?? 0,
    toolCalls: b.toolCalls ?? [],
    errorAfterChunks: b.errorAfterChunks,
    breakInToolCall: b.breakInToolCall ?? false,
    chunkTextJson: JSON.stringify(chunkText),
    contentJson: JSON.stringify(chunkText.repeat(chunks)),
  };
}

/** Deterministic PRNG (mulberry32) for `failRate` when a seed is given. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** This request's delay before headers: latencyMs ± uniform jitter, never negative. */
export function drawLatency(b: ResolvedBehavior, random: () => number): number {
  if (b.latencyJitterMs <= 0) return b.latencyMs;
  return Math.max(0, b.latencyMs + (random() * 2 - 1) * b.latencyJitterMs);
}
