export { checkOpenAIChatRelay, parseOpenAIChatRequest, toOpenAIChatRequest } from './request';
export { parseOpenAIChatResponse, toOpenAIChatResponse, openAIFinishReason, toOpenAIFinishReason } from './response';
export { OpenAIStreamDecoder, OpenAIStreamEncoder } from './stream';
export type { OpenAIEncoderOptions } from './stream';
export { parseOpenAIError, renderOpenAIError, renderOpenAIValidationError, openAIStreamErrorEvent } from './errors';
export { readOpenAIUsage, toOpenAIUsage } from './usage';
export type * from './types';
