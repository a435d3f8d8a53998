export { parseAnthropicRequest, toAnthropicRequest, checkAnthropicVersion, SUPPORTED_ANTHROPIC_VERSIONS, MIN_THINKING_BUDGET } from './request';
export type { AnthropicBuildOptions } from './request';
export { parseAnthropicResponse, toAnthropicResponse, anthropicFinishReason, toAnthropicStopReason } from './response';
export { AnthropicStreamDecoder, AnthropicStreamEncoder } from './stream';
export type { AnthropicEncoderOptions } from './stream';
export { parseAnthropicError, renderAnthropicError, renderAnthropicValidationError, anthropicStreamErrorEvent } from './errors';
export { readAnthropicUsage, toAnthropicUsage, AnthropicUsageTracker } from './usage';
export { ANTHROPIC_VERSION } from './types';
export type * from './types';
