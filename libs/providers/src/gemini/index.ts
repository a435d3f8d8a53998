export { parseGeminiRequest, toGeminiRequest, normaliseSchema } from './request';
export type { GeminiRequestContext } from './request';
export { parseGeminiResponse, toGeminiResponse, toGeminiParts, readGeminiParts, geminiFinishReason, toGeminiFinishReason } from './response';
export { GeminiStreamDecoder, GeminiStreamEncoder } from './stream';
export type { GeminiEncoderOptions } from './stream';
export { parseGeminiError, renderGeminiError, renderGeminiValidationError, geminiStreamErrorEvent } from './errors';
export { readGeminiUsage, toGeminiUsage } from './usage';
export type * from './types';
