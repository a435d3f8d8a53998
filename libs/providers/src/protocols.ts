/**
 * One typed adapter per protocol, on each side: what the ingress needs to
 * speak a client's protocol (parse its request, render responses, stream
 * events and errors) and an upstream's (build its request, read its
 * responses, stream events and errors). Any client reaches any upstream
 * through the canonical form: `CLIENT_PROTOCOLS[c]` × `UPSTREAM_PROTOCOLS[u]`.
 */
import type { CanonicalError, ValidationError } from './canonical/error.types';
import type { CanonicalRequest } from './canonical/request.types';
import type { CanonicalResponse } from './canonical/response.types';
import type { StreamDecoder, StreamEncoder, WireEvent } from './canonical/stream.types';
import type { ParseOptions } from './canonical/validate';
import { parseOpenAIChatRequest, toOpenAIChatRequest } from './openai/request';
import { parseOpenAIChatResponse, toOpenAIChatResponse } from './openai/response';
import { OpenAIStreamDecoder, OpenAIStreamEncoder } from './openai/stream';
import { openAIStreamErrorEvent, parseOpenAIError, renderOpenAIError, renderOpenAIValidationError } from './openai/errors';
import { parseAnthropicRequest, toAnthropicRequest, type AnthropicBuildOptions } from './anthropic/request';
import { parseAnthropicResponse, toAnthropicResponse } from './anthropic/response';
import { AnthropicStreamDecoder, AnthropicStreamEncoder } from './anthropic/stream';
import { anthropicStreamErrorEvent, parseAnthropicError, renderAnthropicError, renderAnthropicValidationError } from './anthropic/errors';
import { parseGeminiRequest, toGeminiRequest } from './gemini/request';
import { parseGeminiResponse, toGeminiResponse } from './gemini/response';
import { GeminiStreamDecoder, GeminiStreamEncoder } from './gemini/stream';
import { geminiStreamErrorEvent, parseGeminiError, renderGeminiError, renderGeminiValidationError } from './gemini/errors';
import { parseResponsesRequest } from './openai-responses/request';
import { toResponsesResponse } from './openai-responses/response';
import { ResponsesStreamEncoder, responsesStreamErrorEvent } from './openai-responses/stream';

export type Protocol = 'openai' | 'anthropic' | 'gemini';

export const PROTOCOLS: readonly Protocol[] = ['openai', 'anthropic', 'gemini'];

/**
 * The protocols a client can speak: every upstream protocol, plus the OpenAI
 * Responses API (`/v1/responses`), which is inbound only.
 */
export type ClientProtocolId = Protocol | 'openai-responses';

/** What the gateway knows about the request when it renders an answer. */
export interface RenderContext {
  /** Epoch seconds. */
  created: number;
  /** The gateway's request id (`x-request-id`); protocols with their own ids may derive them from it. */
  requestId?: string;
  /** The request, for protocols whose answers echo it (Responses). */
  request?: CanonicalRequest;
}

/** What the URL says (Gemini puts the model and the stream flag there, not in the body). */
export interface ClientRequestContext {
  model?: string;
  stream?: boolean;
}

export interface ErrorReply<B = unknown> {
  status: number;
  body: B;
}

/** The client side: the protocol a caller speaks to the gateway. */
export interface ClientProtocol {
  readonly protocol: ClientProtocolId;
  /** Throws ValidationError (render it with `renderValidationError`, status 400). */
  parseRequest(body: unknown, ctx: ClientRequestContext, opts?: ParseOptions): CanonicalRequest;
  renderResponse(res: CanonicalResponse, ctx: RenderContext): unknown;
  newEncoder(req: CanonicalRequest, ctx: RenderContext): StreamEncoder;
  renderError(err: CanonicalError): ErrorReply;
  renderValidationError(err: ValidationError): ErrorReply;
  /** The event that ends a stream on failure (when the status is already committed). */
  streamErrorEvent(err: CanonicalError): WireEvent;
}

/** The upstream side: the protocol a channel speaks. */
export interface UpstreamProtocol {
  readonly protocol: Protocol;
  /** The upstream body (JSON-serialisable). Gemini's model and stream flag go in its URL. */
  buildRequest(req: CanonicalRequest, upstreamModel: string, opts?: AnthropicBuildOptions): unknown;
  parseResponse(body: unknown): CanonicalResponse;
  newDecoder(): StreamDecoder;
  parseError(status: number, body: unknown): CanonicalError;
}

export const CLIENT_PROTOCOLS: Readonly<Record<ClientProtocolId, ClientProtocol>> = {
  openai: {
    protocol: 'openai',
    parseRequest: (body, _ctx, opts) => parseOpenAIChatRequest(body, opts),
    renderResponse: (res, ctx) => toOpenAIChatResponse(res, ctx),
    newEncoder: (req, ctx) => new OpenAIStreamEncoder({ created: ctx.created, includeUsage: req.includeUsage }),
    renderError: renderOpenAIError,
    renderValidationError: renderOpenAIValidationError,
    streamErrorEvent: openAIStreamErrorEvent,
  },
  anthropic: {
    protocol: 'anthropic',
    parseRequest: (body, _ctx, opts) => parseAnthropicRequest(body, opts),
    renderResponse: (res) => toAnthropicResponse(res),
    newEncoder: () => new AnthropicStreamEncoder(),
    renderError: renderAnthropicError,
    renderValidationError: renderAnthropicValidationError,
    streamErrorEvent: anthropicStreamErrorEvent,
  },
  gemini: {
    protocol: 'gemini',
    parseRequest: (body, ctx, opts) => parseGeminiRequest(body, { model: ctx.model ?? '', stream: ctx.stream ?? false }, opts),
    renderResponse: (res) => toGeminiResponse(res),
    newEncoder: () => new GeminiStreamEncoder(),
    renderError: renderGeminiError,
    renderValidationError: renderGeminiValidationError,
    streamErrorEvent: geminiStreamErrorEvent,
  },
  'openai-responses': {
    protocol: 'openai-responses',
    parseRequest: (body, _ctx, opts) => parseResponsesRequest(body, opts),
    renderResponse: (res, ctx) => toResponsesResponse(res, ctx),
    newEncoder: (req, ctx) => new ResponsesStreamEncoder({ created: ctx.created, requestId: ctx.requestId, request: req }),
    renderError: renderOpenAIError,
    renderValidationError: renderOpenAIValidationError,
    streamErrorEvent: (err) => responsesStreamErrorEvent(err),
  },
};

export const UPSTREAM_PROTOCOLS: Readonly<Record<Protocol, UpstreamProtocol>> = {
  openai: {
    protocol: 'openai',
    buildRequest: (req, model) => toOpenAIChatRequest(req, model),
    parseResponse: parseOpenAIChatResponse,
    newDecoder: () => new OpenAIStreamDecoder(),
    parseError: parseOpenAIError,
  },
  anthropic: {
    protocol: 'anthropic',
    buildRequest: (req, model, opts) => toAnthropicRequest(req, model, opts),
    parseResponse: parseAnthropicResponse,
    newDecoder: () => new AnthropicStreamDecoder(),
    parseError: parseAnthropicError,
  },
  gemini: {
    protocol: 'gemini',
    buildRequest: (req) => toGeminiRequest(req),
    parseResponse: (body) => parseGeminiResponse(body),
    newDecoder: () => new GeminiStreamDecoder(),
    parseError: parseGeminiError,
  },
};
