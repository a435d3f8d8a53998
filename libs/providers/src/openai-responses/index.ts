export { parseResponsesRequest } from './request';
export { toResponsesResponse, toResponsesUsage, responsesId } from './response';
export type { ResponsesRenderContext } from './response';
export { ResponsesStreamEncoder, responsesStreamErrorEvent } from './stream';
export type { ResponsesEncoderOptions } from './stream';
export type * from './types';
