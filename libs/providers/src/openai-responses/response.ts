import type { CanonicalRequest } from '../canonical/request.types';
import type { CanonicalResponse, CanonicalUsage, FinishReason } from '../canonical/response.types';
import type { ResponsesOutputItem, ResponsesResponse, ResponsesTextFormat, ResponsesToolChoice, ResponsesUsage } from './types';

export interface ResponsesRenderContext {
  /** `created_at`, epoch seconds. */
  created: number;
  /** The gateway's request id: the response id becomes `resp_<id>` (so it matches `x-request-id`). */
  requestId?: string;
  /** The request, echoed back in the Response object (tools, temperature, …). */
  request?: CanonicalRequest;
}

/** `resp_…` from the gateway's request id, else from the upstream's id. */
export function responsesId(requestId: string | undefined, upstreamId: string): string {
  const base = requestId !== undefined && requestId.length > 0 ? requestId.replace(/-/g, '') : upstreamId;
  return base.startsWith('resp_') ? base : `resp_${base}`;
}

/** Output item ids, derived from the response id so a response's ids stay together. */
export function itemId(prefix: 'msg' | 'fc' | 'rs', responseId: string, outputIndex: number): string {
  return `${prefix}_${responseId.slice(5)}_${outputIndex}`;
}

export function toResponsesUsage(u: CanonicalUsage): ResponsesUsage {
  return {
    input_tokens: u.input,
    input_tokens_details: { cached_tokens: u.cachedInput, cache_write_tokens: u.cacheWrite },
    output_tokens: u.output,
    output_tokens_details: { reasoning_tokens: u.reasoning },
    total_tokens: u.input + u.output,
  };
}

/** `incomplete_details` for a finish that cut the answer short; null for a complete one. */
export function incompleteOf(reason: FinishReason | null): ResponsesResponse['incomplete_details'] {
  if (reason === 'length') return { reason: 'max_output_tokens' };
  if (reason === 'content_filter') return { reason: 'content_filter' };
  return null;
}

function toolChoiceOf(req: CanonicalRequest | undefined): ResponsesToolChoice {
  const c = req?.toolChoice;
  if (!c) return 'auto';
  return c.type === 'tool' ? { type: 'function', name: c.name } : c.type;
}

function textFormatOf(req: CanonicalRequest | undefined): ResponsesTextFormat {
  const f = req?.responseFormat;
  if (!f) return { type: 'text' };
  if (f.type !== 'json_schema') return { type: f.type };
  const out: ResponsesTextFormat = { type: 'json_schema', name: f.name, schema: f.schema };
  if (f.strict !== undefined) out.strict = f.strict;
  if (f.description !== undefined) out.description = f.description;
  return out;
}

/** The Response object around an output: what the request asked for, echoed, and a status. */
export function responseShell(id: string, model: string, ctx: ResponsesRenderContext): ResponsesResponse {
  const req = ctx.request;
  return {
    id,
    object: 'response',
    created_at: ctx.created,
    status: 'in_progress',
    completed_at: null,
    error: null,
    incomplete_details: null,
    instructions: req?.system ?? null,
    max_output_tokens: req?.maxOutputTokens ?? null,
    model,
    output: [],
    parallel_tool_calls: req?.parallelToolCalls ?? true,
    previous_response_id: null,
    reasoning: { effort: req?.reasoning?.effort ?? null, summary: null },
    store: false,
    temperature: req?.temperature ?? null,
    text: { format: textFormatOf(req) },
    tool_choice: toolChoiceOf(req),
    tools: (req?.tools ?? []).map((t) => ({ type: 'function', name: t.name, description: t.description ?? null, parameters: t.parameters, strict: t.strict ?? null })),
    top_p: req?.topP ?? null,
    truncation: 'disabled',
    usage: null,
    user: req?.user ?? null,
    metadata: {},
  };
}

/**
 * A canonical response as the Response object an OpenAI Responses client
 * expects: reasoning, message and function_call items in the order the
 * model produced them; `incomplete` with `incomplete_details` when it hit
 * the token limit.
 */
export function toResponsesResponse(res: CanonicalResponse, ctx: ResponsesRenderContext): ResponsesResponse {
  const id = responsesId(ctx.requestId, res.id);
  const out = responseShell(id, res.model, ctx);
  const incomplete = incompleteOf(res.finishReason);
  const itemStatus = incomplete ? 'incomplete' : 'completed';
  const output: ResponsesOutputItem[] = out.output;
  for (const p of res.content) {
    const last = output.at(-1);
    if (p.type === 'text') {
      if (last?.type === 'message') last.content[0]!.text += p.text;
      else output.push({ type: 'message', id: itemId('msg', id, output.length), role: 'assistant', status: itemStatus, content: [{ type: 'output_text', text: p.text, annotations: [], logprobs: [] }] });
    } else if (p.type === 'thinking') {
      if (last?.type === 'reasoning' && last.encrypted_content === undefined) {
        last.content![0]!.text += p.text;
        if (p.signature !== undefined) last.encrypted_content = p.signature;
      } else {
        const item: ResponsesOutputItem = { type: 'reasoning', id: itemId('rs', id, output.length), summary: [], content: [{ type: 'reasoning_text', text: p.text }] };
        if (p.signature !== undefined) item.encrypted_content = p.signature;
        output.push(item);
      }
    } else if (p.type === 'tool_call') {
      output.push({ type: 'function_call', id: itemId('fc', id, output.length), call_id: p.id, name: p.name, arguments: p.arguments, status: 'completed' });
    }
  }
  out.status = incomplete ? 'incomplete' : 'completed';
  out.incomplete_details = incomplete;
  if (!incomplete) out.completed_at = ctx.created;
  if (res.usage) out.usage = toResponsesUsage(res.usage);
  return out;
}
