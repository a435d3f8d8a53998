import type { FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../errors/gateway-error';
import { readPromptInput, readModelBody, type OpenAIPassthrough, type Surface, type SurfaceRequest } from '../completions/openai-passthrough';

/** Validates an OpenAI Embeddings body: `model`, `input` (text or token ids), no streaming. */
export function readEmbeddingsRequest(body: unknown): SurfaceRequest {
  const b = readModelBody(body);
  const prompt = readPromptInput(b.input, 'input');
  if (b.encoding_format !== undefined && b.encoding_format !== 'float' && b.encoding_format !== 'base64') {
    throw new GatewayError('invalid_request', { message: "Invalid 'encoding_format': expected 'float' or 'base64'.", param: 'encoding_format', code: 'invalid_value' });
  }
  if (b.dimensions !== undefined && !(typeof b.dimensions === 'number' && Number.isInteger(b.dimensions) && b.dimensions > 0)) {
    throw new GatewayError('invalid_request', { message: "Invalid 'dimensions': expected a positive integer.", param: 'dimensions', code: 'invalid_type' });
  }
  return { model: b.model, stream: false, clientWantsUsage: false, prompt, body: b, route: b.route };
}

const EMBEDDINGS: Surface = { name: 'POST /v1/embeddings', upstreamPath: '/embeddings', read: readEmbeddingsRequest };

/** POST /v1/embeddings: forwarded to the OpenAI-compatible channels serving the model; usage from `usage.prompt_tokens`. */
export class EmbeddingsHandler {
  constructor(private readonly passthrough: OpenAIPassthrough) {}

  handle(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    return this.passthrough.handle(EMBEDDINGS, req, reply);
  }
}
