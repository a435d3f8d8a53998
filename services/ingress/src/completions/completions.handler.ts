import type { FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../errors/gateway-error';
import { readPromptInput, readModelBody, type OpenAIPassthrough, type Surface, type SurfaceRequest } from './openai-passthrough';

/** Validates a legacy Completions body: `model`, `prompt`, optional `stream` and `stream_options`. */
export function readCompletionsRequest(body: unknown): SurfaceRequest {
  const b = readModelBody(body);
  const prompt = readPromptInput(b.prompt, 'prompt');
  if (b.stream !== undefined && b.stream !== null && typeof b.stream !== 'boolean') {
    throw new GatewayError('invalid_request', { message: "Invalid type for 'stream': expected a boolean.", param: 'stream', code: 'invalid_type' });
  }
  const so = b.stream_options;
  if (so !== undefined && so !== null && (typeof so !== 'object' || Array.isArray(so))) {
    throw new GatewayError('invalid_request', { message: "Invalid type for 'stream_options': expected an object.", param: 'stream_options', code: 'invalid_type' });
  }
  const stream = b.stream === true;
  const clientWantsUsage = stream && (so as { include_usage?: unknown } | null | undefined)?.include_usage === true;
  return { model: b.model, stream, clientWantsUsage, prompt, body: b, route: b.route };
}

const COMPLETIONS: Surface = { name: 'POST /v1/completions', upstreamPath: '/completions', read: readCompletionsRequest };

/**
 * POST /v1/completions (legacy): forwarded to OpenAI-compatible channels,
 * JSON or SSE; streams ask upstream for usage and hide it from clients that
 * did not ask.
 */
export class CompletionsHandler {
  constructor(private readonly passthrough: OpenAIPassthrough) {}

  handle(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    return this.passthrough.handle(COMPLETIONS, req, reply);
  }
}
