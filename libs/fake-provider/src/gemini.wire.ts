/**
 * The Gemini API as the fake speaks it: `POST /v1beta/models/{model}:generateContent`
 * and `:streamGenerateContent` (SSE with `alt=sse`, a JSON array without),
 * `GET /v1beta/models`, error bodies `{"error":{"code","message","status"}}`,
 * and `x-goog-api-key` or `key=` auth.
 */
import type { IncomingMessage } from 'node:http';
import type { Dialect, GenerateContext, Reply, Route, StreamPlan, WireEvent } from './fake-dialect.server';
import { countWords, TOKENS_PER_MESSAGE, TOOL_CALL_TOKENS } from './tokens';

export const DEFAULT_GEMINI_MODELS: readonly string[] = ['gemini-2.5-flash', 'gemini-2.5-pro', 'gemini-2.0-flash'];
const THINKING_TEXT = 'think ';

export interface GeminiErrorBody {
  error: { code: number; message: string; status: string; details?: unknown[] };
}

const STATUS: Record<number, [string, string]> = {
  400: ['INVALID_ARGUMENT', 'Request contains an invalid argument.'],
  401: ['UNAUTHENTICATED', 'Request had invalid authentication credentials.'],
  403: ['PERMISSION_DENIED', 'The caller does not have permission.'],
  404: ['NOT_FOUND', 'Requested entity was not found.'],
  429: ['RESOURCE_EXHAUSTED', 'Resource has been exhausted (e.g. check quota).'],
  500: ['INTERNAL', 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting'],
  503: ['UNAVAILABLE', 'The model is overloaded. Please try again later.'],
  504: ['DEADLINE_EXCEEDED', 'The request timed out. Please try again.'],
};

/** The error body Gemini sends with `status`. */
export function geminiErrorFor(status: number, ctx: { model?: string } = {}): GeminiErrorBody {
  if (status === 404 && ctx.model) return { error: { code: 404, message: `models/${ctx.model} is not found for API version v1beta, or is not supported for generateContent.`, status: 'NOT_FOUND' } };
  const [s, message] = STATUS[status] ?? (status >= 500 ? ['INTERNAL', `Internal error (HTTP ${status}).`] : ['FAILED_PRECONDITION', `The request failed with HTTP ${status}.`]);
  return { error: { code: status, message, status: s } };
}

function invalidArgument(message: string): Reply {
  return { status: 400, body: { error: { code: 400, message, status: 'INVALID_ARGUMENT' } } };
}

function partsWords(parts: unknown): number {
  if (!Array.isArray(parts)) return 0;
  let n = 0;
  for (const p of parts) if (typeof p === 'object' && p !== null && typeof (p as { text?: unknown }).text === 'string') n += countWords((p as { text: string }).text);
  return n;
}

/** 3 per content (and per system instruction) plus the words of its text parts. */
export function countGeminiPromptTokens(body: { contents?: unknown; systemInstruction?: unknown }): number {
  let n = 0;
  if (Array.isArray(body.contents)) for (const c of body.contents) n += TOKENS_PER_MESSAGE + (typeof c === 'object' && c !== null ? partsWords((c as { parts?: unknown }).parts) : 0);
  const si = body.systemInstruction;
  if (typeof si === 'object' && si !== null) n += TOKENS_PER_MESSAGE + partsWords((si as { parts?: unknown }).parts);
  return n < 1 ? 1 : n;
}

const ACTION = /^\/v1beta\/models\/([^/:]+):(generateContent|streamGenerateContent)$/;

function usage(ctx: GenerateContext, final: boolean): Record<string, unknown> {
  const { b } = ctx;
  const u: Record<string, unknown> = { promptTokenCount: ctx.promptTokens };
  const candidates = b.chunks + b.toolCalls.length * TOOL_CALL_TOKENS;
  const thoughts = b.thinkingChunks + b.reasoningTokens;
  if (final) u.candidatesTokenCount = candidates;
  u.totalTokenCount = ctx.promptTokens + (final ? candidates + thoughts : 0);
  if (b.cachedTokens > 0) u.cachedContentTokenCount = b.cachedTokens;
  if (final && thoughts > 0) u.thoughtsTokenCount = thoughts;
  u.promptTokensDetails = [{ modality: 'TEXT', tokenCount: ctx.promptTokens }];
  return u;
}

const j = JSON.stringify;

function chunk(ctx: GenerateContext, parts: unknown[], final: boolean): string {
  const cand: Record<string, unknown> = { content: { parts, role: 'model' } };
  if (final) cand.finishReason = 'STOP';
  cand.index = 0;
  return j({ candidates: [cand], usageMetadata: usage(ctx, final), modelVersion: ctx.model, responseId: ctx.seq });
}

export const geminiDialect: Dialect = {
  auth: { headers: ['x-goog-api-key'], queryKey: 'key' },
  requestIdHeader: 'x-request-id',

  route(method: string, path: string, query: URLSearchParams, models: readonly string[]): Route {
    const m = ACTION.exec(path);
    if (m && method === 'POST') return { kind: 'generate', jsonArray: m[2] === 'streamGenerateContent' && query.get('alt') !== 'sse', model: decodeURIComponent(m[1]!) };
    if (path === '/v1beta/models' && method === 'GET') return { kind: 'reply', reply: { status: 200, body: { models: models.map(modelObject) } } };
    if (path.startsWith('/v1beta/models/') && method === 'GET') {
      const id = decodeURIComponent(path.slice('/v1beta/models/'.length));
      return models.includes(id) ? { kind: 'reply', reply: { status: 200, body: modelObject(id) } } : { kind: 'reply', reply: { status: 404, body: geminiErrorFor(404, { model: id }) } };
    }
    return { kind: 'reply', reply: this.notFound(method, path) };
  },

  check(_req: IncomingMessage, body: unknown, route: Extract<Route, { kind: 'generate' }>, path: string): Reply | { promptTokens: number; model: string; stream: boolean } {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return invalidArgument('Invalid JSON payload received. Expected an object.');
    const b = body as { contents?: unknown; systemInstruction?: unknown };
    if (!Array.isArray(b.contents) || b.contents.length === 0) return invalidArgument('* GenerateContentRequest.contents: contents is not specified\n');
    return { promptTokens: countGeminiPromptTokens(b), model: route.model ?? '', stream: path.endsWith(':streamGenerateContent') };
  },

  complete(ctx: GenerateContext): string {
    const { b } = ctx;
    const parts: unknown[] = [];
    if (b.thinkingChunks > 0) parts.push({ text: THINKING_TEXT.repeat(b.thinkingChunks), thought: true });
    if (b.chunks > 0) parts.push({ text: b.chunkText.repeat(b.chunks) });
    for (const c of b.toolCalls) parts.push({ functionCall: { name: c.name, args: c.arguments } });
    return chunk(ctx, parts, true);
  },

  stream(ctx: GenerateContext): StreamPlan {
    const { b } = ctx;
    const head: WireEvent[] = [];
    for (let i = 0; i < b.thinkingChunks; i++) head.push({ json: chunk(ctx, [{ text: THINKING_TEXT, thought: true }], false) });
    const finalParts: unknown[] = b.toolCalls.map((c) => ({ functionCall: { name: c.name, args: c.arguments } }));
    if (finalParts.length === 0) finalParts.push({ text: '' });
    return {
      head,
      content: { json: chunk(ctx, [{ text: b.chunkText }], false) },
      tail: [{ json: chunk(ctx, finalParts, true) }],
      error: { json: j(geminiErrorFor(503)), raw: true },
    };
  },

  errorFor: (status, ctx) => geminiErrorFor(status, ctx),
  invalidJson: () => invalidArgument('Invalid JSON payload received.'),
  unauthorized: () => ({
    status: 400,
    body: {
      error: {
        code: 400,
        message: 'API key not valid. Please pass a valid API key.',
        status: 'INVALID_ARGUMENT',
        details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com' }],
      },
    },
  }),
  notFound: (method, path) => ({ status: 404, body: { error: { code: 404, message: `Method not found: ${method} ${path}`, status: 'NOT_FOUND' } } }),
  badScript: (message) => invalidArgument(message),
};

function modelObject(id: string): Record<string, unknown> {
  return {
    name: `models/${id}`,
    version: '001',
    displayName: id,
    inputTokenLimit: 1048576,
    outputTokenLimit: 65536,
    supportedGenerationMethods: ['generateContent', 'countTokens'],
  };
}
