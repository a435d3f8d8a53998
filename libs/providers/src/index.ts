/**
 * @switchyard/providers — protocol translation between the OpenAI,
 * Anthropic and Gemini wire formats through one canonical form. Pure: it
 * turns parsed bodies and SSE events into objects; HTTP stays in ingress.
 */
export type * from './canonical/request.types';
export type * from './canonical/response.types';
export { ZERO_USAGE } from './canonical/response.types';
export type { StreamEvent, StreamEventType, WireEvent, StreamDecoder, StreamEncoder } from './canonical/stream.types';
export { formatSse } from './canonical/stream.types';
export type { CanonicalError, ErrorKind } from './canonical/error.types';
export { ValidationError, kindOfStatus, statusOfKind } from './canonical/error.types';
export type { ParseOptions } from './canonical/validate';
export { DEFAULT_MAX_IMAGE_BYTES } from './canonical/validate';
export { EFFORT_BUDGET, budgetOf, effortOf, effortOfBudget } from './canonical/reasoning';
export { SseParser } from './sse/sse.parser';
export type { SseEvent } from './sse/sse.parser';
export { parseModelVariant, applyVariant, reasoningParams } from './model-variants';
export type { ModelVariant, ReasoningProvider } from './model-variants';
export * from './openai';
export * from './anthropic';
export * from './gemini';
export * from './openai-responses';
export { CLIENT_PROTOCOLS, UPSTREAM_PROTOCOLS, PROTOCOLS } from './protocols';
export type { Protocol, ClientProtocol, ClientProtocolId, RenderContext, UpstreamProtocol, ClientRequestContext, ErrorReply } from './protocols';
