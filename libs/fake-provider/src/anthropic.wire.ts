/**
 * The Anthropic Messages API as the fake speaks it: `POST /v1/messages`
 * (non-stream and the full stream event sequence), `GET /v1/models`, error
 * bodies `{"type":"error","error":{"type","message"}}` with Anthropic's
 * statuses (529 overloaded), `x-api-key` auth and a required
 * `anthropic-version` header.
 */
import type { IncomingMessage } from 'node:http';
import type { Dialect, GenerateContext, Reply, Route, StreamPlan, WireEvent } from './fake-dialect.server';
import { countPromptTokens, countWords, TOKENS_PER_MESSAGE, TOOL_CALL_TOKENS } from './tokens';

export const FAKE_SIGNATURE = 'ZmFrZS1zaWduYXR1cmU=';
const THINKING_TEXT = 'think ';
export const DEFAULT_ANTHROPIC_MODELS: readonly string[] = ['claude-sonnet-4-20250514', 'claude-opus-4-1-20250805', 'claude-3-5-haiku-20241022'];

export interface AnthropicErrorBody {
  type: 'error';
  error: { type: string; message: string };
}

function err(type: string, message: string): AnthropicErrorBody {
  return { type: 'error', error: { type, message } };
}

/** The error body Anthropic sends with `status`. */
export function anthropicErrorFor(status: number, ctx: { model?: string } = {}): AnthropicErrorBody {
  switch (status) {
    case 400:
      return err('invalid_request_error', 'Invalid request: the fake provider was scripted to reject it.');
    case 401:
      return err('authentication_error', 'invalid x-api-key');
    case 402:
      return err('billing_error', 'Your credit balance is too low to access the Anthropic API.');
    case 403:
      return err('permission_error', 'Your API key does not have permission to use the specified resource.');
    case 404:
      return err('not_found_error', `model: ${ctx.model ?? 'unknown'}`);
    case 413:
      return err('request_too_large', 'Request exceeds the maximum allowed number of bytes.');
    case 429:
      return err('rate_limit_error', 'This request would exceed the rate limit for your organization. Please try again later.');
    case 529:
      return err('overloaded_error', 'Overloaded');
    case 504:
      return err('timeout_error', 'Request timed out.');
    default:
      return status >= 500 ? err('api_error', 'Internal server error') : err('invalid_request_error', `The request failed with HTTP ${status}.`);
  }
}

interface MessagesBody {
  model?: unknown;
  max_tokens?: unknown;
  messages?: unknown;
  system?: unknown;
  stream?: unknown;
}

function systemWords(system: unknown): number {
  if (typeof system === 'string') return countWords(system);
  if (!Array.isArray(system)) return 0;
  let n = 0;
  for (const b of system) if (typeof b === 'object' && b !== null && typeof (b as { text?: unknown }).text === 'string') n += countWords((b as { text: string }).text);
  return n;
}

interface Tokens {
  input: number;
  cacheRead: number;
  cacheWrite: number;
  output: number;
}

function tokens(ctx: GenerateContext): Tokens {
  const { b } = ctx;
  return {
    input: Math.max(0, ctx.promptTokens - b.cachedTokens - b.cacheWriteTokens),
    cacheRead: b.cachedTokens,
    cacheWrite: b.cacheWriteTokens,
    output: b.chunks + b.thinkingChunks + b.reasoningTokens + b.toolCalls.length * TOOL_CALL_TOKENS,
  };
}

const j = JSON.stringify;

export const anthropicDialect: Dialect = {
  auth: { headers: ['x-api-key', 'authorization'], queryKey: null },
  requestIdHeader: 'request-id',

  route(method: string, path: string, _query: URLSearchParams, models: readonly string[]): Route {
    if (path === '/v1/messages' && method === 'POST') return { kind: 'generate', jsonArray: false, model: null };
    if (path === '/v1/models' && method === 'GET') {
      const data = models.map(modelObject);
      return { kind: 'reply', reply: { status: 200, body: { data, has_more: false, first_id: models[0] ?? null, last_id: models[models.length - 1] ?? null } } };
    }
    if (path.startsWith('/v1/models/') && method === 'GET') {
      const id = decodeURIComponent(path.slice('/v1/models/'.length));
      return models.includes(id) ? { kind: 'reply', reply: { status: 200, body: modelObject(id) } } : { kind: 'reply', reply: { status: 404, body: anthropicErrorFor(404, { model: id }) } };
    }
    return { kind: 'reply', reply: this.notFound(method, path) };
  },

  check(req: IncomingMessage, body: unknown): Reply | { promptTokens: number; model: string; stream: boolean } {
    if (typeof req.headers['anthropic-version'] !== 'string') return { status: 400, body: err('invalid_request_error', 'anthropic-version: header is required') };
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return { status: 400, body: err('invalid_request_error', 'Request body must be a JSON object') };
    const m = body as MessagesBody;
    if (typeof m.model !== 'string') return { status: 400, body: err('invalid_request_error', 'model: Field required') };
    if (typeof m.max_tokens !== 'number' || !Number.isInteger(m.max_tokens)) return { status: 400, body: err('invalid_request_error', 'max_tokens: Field required') };
    if (!Array.isArray(m.messages)) return { status: 400, body: err('invalid_request_error', 'messages: Field required') };
    const sys = m.system === undefined ? 0 : TOKENS_PER_MESSAGE + systemWords(m.system);
    return { promptTokens: countPromptTokens(m.messages) + sys, model: m.model, stream: m.stream === true };
  },

  complete(ctx: GenerateContext): string {
    const { b } = ctx;
    const t = tokens(ctx);
    const content: unknown[] = [];
    if (b.thinkingChunks > 0) content.push({ type: 'thinking', thinking: THINKING_TEXT.repeat(b.thinkingChunks), signature: FAKE_SIGNATURE });
    if (b.chunks > 0) content.push({ type: 'text', text: b.chunkText.repeat(b.chunks) });
    b.toolCalls.forEach((c, i) => content.push({ type: 'tool_use', id: toolId(ctx, i), name: c.name, input: c.arguments }));
    return j({
      id: 'msg_' + ctx.seq,
      type: 'message',
      role: 'assistant',
      model: ctx.model,
      content,
      stop_reason: b.toolCalls.length > 0 ? 'tool_use' : 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: t.input, cache_creation_input_tokens: t.cacheWrite, cache_read_input_tokens: t.cacheRead, output_tokens: t.output, service_tier: 'standard' },
    });
  },

  stream(ctx: GenerateContext): StreamPlan {
    const { b } = ctx;
    const t = tokens(ctx);
    const ev = (type: string, payload: Record<string, unknown>): WireEvent => ({ event: type, json: j({ type, ...payload }) });
    const head: WireEvent[] = [
      ev('message_start', {
        message: {
          id: 'msg_' + ctx.seq,
          type: 'message',
          role: 'assistant',
          model: ctx.model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: t.input, cache_creation_input_tokens: t.cacheWrite, cache_read_input_tokens: t.cacheRead, output_tokens: 1, service_tier: 'standard' },
        },
      }),
    ];
    let index = 0;
    if (b.thinkingChunks > 0) {
      head.push(ev('content_block_start', { index, content_block: { type: 'thinking', thinking: '', signature: '' } }));
      for (let i = 0; i < b.thinkingChunks; i++) head.push(ev('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: THINKING_TEXT } }));
      head.push(ev('content_block_delta', { index, delta: { type: 'signature_delta', signature: FAKE_SIGNATURE } }));
      head.push(ev('content_block_stop', { index }));
      index++;
    }
    const tail: WireEvent[] = [];
    const textIndex = index;
    if (b.chunks > 0) {
      head.push(ev('content_block_start', { index, content_block: { type: 'text', text: '' } }));
      head.push(ev('ping', {}));
      tail.push(ev('content_block_stop', { index }));
      index++;
    }
    b.toolCalls.forEach((c, i) => {
      const json = j(c.arguments);
      const half = Math.floor(json.length / 2);
      tail.push(ev('content_block_start', { index, content_block: { type: 'tool_use', id: toolId(ctx, i), name: c.name, input: {} } }));
      tail.push(ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: '' } }));
      tail.push(ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: json.slice(0, half) } }));
      tail.push(ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: json.slice(half) } }));
      tail.push(ev('content_block_stop', { index }));
      index++;
    });
    tail.push(ev('message_delta', { delta: { stop_reason: b.toolCalls.length > 0 ? 'tool_use' : 'end_turn', stop_sequence: null }, usage: { output_tokens: t.output } }));
    tail.push(ev('message_stop', {}));
    return {
      head,
      content: { event: 'content_block_delta', json: '{"type":"content_block_delta","index":' + textIndex + ',"delta":{"type":"text_delta","text":' + b.chunkTextJson + '}}' },
      tail,
      error: { event: 'error', json: j(anthropicErrorFor(529)) },
    };
  },

  errorFor: (status, ctx) => anthropicErrorFor(status, ctx),
  invalidJson: () => ({ status: 400, body: err('invalid_request_error', 'There was an error parsing the body of your request as JSON.') }),
  unauthorized: () => ({ status: 401, body: anthropicErrorFor(401) }),
  notFound: () => ({ status: 404, body: err('not_found_error', 'Not Found') }),
  badScript: (message) => ({ status: 400, body: err('invalid_request_error', message) }),
};

function toolId(ctx: GenerateContext, i: number): string {
  return 'toolu_' + ctx.seq + '_' + i;
}

function modelObject(id: string): Record<string, unknown> {
  return { type: 'model', id, display_name: id, created_at: '2025-05-14T00:00:00Z' };
}
