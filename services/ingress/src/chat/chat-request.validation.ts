import { GatewayError } from '../errors/gateway-error';

const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function']);

export interface ChatRequestView {
  model: string;
  stream: boolean;
  clientWantsUsage: boolean;
  body: Record<string, unknown>;
}

function invalid(message: string, param: string | null): GatewayError {
  return new GatewayError('invalid_request', { message, param, code: 'invalid_request' });
}

/**
 * Checks the fields the gateway itself relies on, with OpenAI's wording for
 * the error, and leaves the rest to the upstream that understands it.
 */
export function readChatRequest(body: unknown): ChatRequestView {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalid('The request body must be a JSON object.', null);
  }
  const b = body as Record<string, unknown>;
  if (typeof b.model !== 'string' || b.model.length === 0) throw invalid("'model' is required and must be a string.", 'model');
  if (!Array.isArray(b.messages) || b.messages.length === 0) {
    throw invalid("'messages' is required and must be a non-empty array.", 'messages');
  }
  for (let i = 0; i < b.messages.length; i++) {
    const m = b.messages[i] as { role?: unknown } | null;
    if (typeof m !== 'object' || m === null || typeof m.role !== 'string' || !ROLES.has(m.role)) {
      throw invalid(`'messages[${i}].role' must be one of system, developer, user, assistant, tool.`, `messages[${i}].role`);
    }
  }
  if (b.stream !== undefined && b.stream !== null && typeof b.stream !== 'boolean') throw invalid("'stream' must be a boolean.", 'stream');
  const so = b.stream_options as { include_usage?: unknown } | undefined | null;
  return {
    model: b.model,
    stream: b.stream === true,
    clientWantsUsage: typeof so === 'object' && so !== null && so.include_usage === true,
    body: b,
  };
}
