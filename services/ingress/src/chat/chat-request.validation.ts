import { checkOpenAIChatRelay, CLIENT_PROTOCOLS, ValidationError, type CanonicalRequest, type ClientProtocolId, type ClientRequestContext, type ReasoningConfig } from '@switchyard/providers';
import { GatewayError } from '../errors/gateway-error';

const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function']);

export interface ChatRequestView {
  /** The protocol the client speaks. */
  protocol: ClientProtocolId;
  model: string;
  stream: boolean;
  clientWantsUsage: boolean;
  body: Record<string, unknown>;
  /** The request in the canonical form, parsed once when a translation needs it. */
  canonical?: CanonicalRequest;
  /** The id the client sent when it named a model variant (`model` is then the base that routes). */
  requestedModel?: string;
  /** A model variant's reasoning, which wins over the body's. */
  reasoningOverride?: ReasoningConfig;
}

function invalid(message: string, param: string | null): GatewayError {
  return new GatewayError('invalid_request', { message, param, code: 'invalid_request' });
}

/**
 * Checks the fields the gateway itself relies on, the types every
 * OpenAI-compatible API shares and the image size limit, with OpenAI's
 * wording for the error, and leaves the rest to the upstream that understands it.
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
  // The body may be relayed untranslated: the shared field types and the image limit are checked here,
  // so the answer does not depend on which channel serves the model (a translated body is parsed in full).
  try {
    checkOpenAIChatRelay(b);
  } catch (e) {
    throw asValidationGatewayError(e);
  }
  const so = b.stream_options as { include_usage?: unknown } | undefined | null;
  return {
    protocol: 'openai',
    model: b.model,
    stream: b.stream === true,
    clientWantsUsage: typeof so === 'object' && so !== null && so.include_usage === true,
    body: b,
  };
}

/** The canonical form of the request (parsed on first need; the body is parsed only once). */
export function canonicalOf(view: ChatRequestView, ctx: ClientRequestContext = {}): CanonicalRequest {
  if (!view.canonical) {
    try {
      view.canonical = CLIENT_PROTOCOLS[view.protocol].parseRequest(view.body, ctx);
      if (view.reasoningOverride) view.canonical.reasoning = view.reasoningOverride;
    } catch (e) {
      throw asValidationGatewayError(e);
    }
  }
  return view.canonical;
}

/** An Anthropic, Gemini or OpenAI Responses request: validated into the canonical form up front. */
export function readTranslatedRequest(protocol: Exclude<ClientProtocolId, 'openai'>, body: unknown, ctx: ClientRequestContext): ChatRequestView {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('The request body must be a JSON object.', null);
  const view: ChatRequestView = { protocol, model: '', stream: false, clientWantsUsage: false, body: body as Record<string, unknown> };
  const canonical = canonicalOf(view, ctx);
  view.model = canonical.model;
  view.stream = canonical.stream;
  view.clientWantsUsage = true;
  if (!view.model) throw invalid('The model is required.', 'model');
  return view;
}

/**
 * A request the client got wrong. It is `permanent`: returned at once, and
 * never held against a channel, although a translated request is parsed
 * only once an attempt on a channel that needs it begins.
 */
function asValidationGatewayError(e: unknown): GatewayError {
  if (e instanceof ValidationError) {
    return new GatewayError('invalid_request', { message: `${e.field}: ${e.message}`, param: e.field, code: 'invalid_request', errorClass: 'permanent', cause: e });
  }
  return e instanceof GatewayError ? e : new GatewayError('invalid_request', { message: (e as Error).message, errorClass: 'permanent', cause: e });
}
