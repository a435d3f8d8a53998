import type { CanonicalResponse, FinishReason, ResponsePart } from '../canonical/response.types';
import { isObject } from '../canonical/validate';
import type { OpenAIChatCompletion, OpenAIToolCall } from './types';
import { readOpenAIUsage, toOpenAIUsage } from './usage';

/** OpenAI `finish_reason` → canonical; unknown reasons count as `stop` (the raw one is kept). */
export function openAIFinishReason(raw: string | null | undefined): FinishReason {
  switch (raw) {
    case 'length':
      return 'length';
    case 'tool_calls':
    case 'function_call':
      return 'tool_calls';
    case 'content_filter':
      return 'content_filter';
    default:
      return 'stop';
  }
}

export function toOpenAIFinishReason(r: FinishReason): string {
  return r === 'error' ? 'stop' : r;
}

/** Reads an upstream `chat.completion` (first choice) into a canonical response. */
export function parseOpenAIChatResponse(body: unknown): CanonicalResponse {
  const b = isObject(body) ? body : {};
  const choices = Array.isArray(b.choices) ? b.choices : [];
  const choice = isObject(choices[0]) ? choices[0] : {};
  const msg = isObject(choice.message) ? choice.message : {};
  const content: ResponsePart[] = [];
  if (typeof msg.reasoning_content === 'string' && msg.reasoning_content.length > 0) content.push({ type: 'thinking', text: msg.reasoning_content });
  if (typeof msg.content === 'string' && msg.content.length > 0) content.push({ type: 'text', text: msg.content });
  if (Array.isArray(msg.tool_calls)) {
    for (const c of msg.tool_calls) {
      if (!isObject(c) || !isObject(c.function)) continue;
      content.push({
        type: 'tool_call',
        id: typeof c.id === 'string' ? c.id : '',
        name: typeof c.function.name === 'string' ? c.function.name : '',
        arguments: typeof c.function.arguments === 'string' ? c.function.arguments : '{}',
      });
    }
  }
  const raw = typeof choice.finish_reason === 'string' ? choice.finish_reason : null;
  return {
    id: typeof b.id === 'string' ? b.id : '',
    model: typeof b.model === 'string' ? b.model : '',
    content,
    finishReason: openAIFinishReason(raw),
    rawFinishReason: raw,
    usage: readOpenAIUsage(b.usage),
  };
}

/** A canonical response as the `chat.completion` object an OpenAI client expects. */
export function toOpenAIChatResponse(res: CanonicalResponse, opts: { created: number; id?: string }): OpenAIChatCompletion {
  let text = '';
  let thinking = '';
  const calls: OpenAIToolCall[] = [];
  for (const p of res.content) {
    if (p.type === 'text') text += p.text;
    else if (p.type === 'thinking') thinking += p.text;
    else if (p.type === 'tool_call') calls.push({ id: p.id, type: 'function', function: { name: p.name, arguments: p.arguments } });
  }
  const message: OpenAIChatCompletion['choices'][number]['message'] = {
    role: 'assistant',
    content: text.length > 0 || calls.length === 0 ? text : null,
    refusal: null,
  };
  if (thinking.length > 0) message.reasoning_content = thinking;
  if (calls.length > 0) message.tool_calls = calls;
  const out: OpenAIChatCompletion = {
    id: opts.id ?? (res.id.startsWith('chatcmpl-') ? res.id : `chatcmpl-${res.id}`),
    object: 'chat.completion',
    created: opts.created,
    model: res.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: toOpenAIFinishReason(res.finishReason) }],
  };
  if (res.usage) out.usage = toOpenAIUsage(res.usage);
  return out;
}
