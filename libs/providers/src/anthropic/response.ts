import type { CanonicalResponse, FinishReason, ResponsePart } from '../canonical/response.types';
import { isObject, parseArguments } from '../canonical/validate';
import type { AnthropicResponse, AnthropicResponseBlock } from './types';
import { readAnthropicUsage, toAnthropicUsage } from './usage';

/** Anthropic `stop_reason` → canonical; unknown reasons count as `stop` (the raw one is kept). */
export function anthropicFinishReason(raw: string | null | undefined): FinishReason {
  switch (raw) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      return 'stop';
  }
}

export function toAnthropicStopReason(r: FinishReason): string {
  switch (r) {
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
      return 'tool_use';
    case 'content_filter':
      return 'refusal';
    default:
      return 'end_turn';
  }
}

/** Reads an upstream Anthropic `message` into a canonical response. */
export function parseAnthropicResponse(body: unknown): CanonicalResponse {
  const b = isObject(body) ? body : {};
  const content: ResponsePart[] = [];
  for (const block of Array.isArray(b.content) ? b.content : []) {
    if (!isObject(block)) continue;
    if (block.type === 'text' && typeof block.text === 'string') content.push({ type: 'text', text: block.text });
    else if (block.type === 'thinking' && typeof block.thinking === 'string') {
      content.push(typeof block.signature === 'string' ? { type: 'thinking', text: block.thinking, signature: block.signature } : { type: 'thinking', text: block.thinking });
    } else if (block.type === 'redacted_thinking' && typeof block.data === 'string') content.push({ type: 'redacted_thinking', data: block.data });
    else if (block.type === 'tool_use') {
      content.push({
        type: 'tool_call',
        id: typeof block.id === 'string' ? block.id : '',
        name: typeof block.name === 'string' ? block.name : '',
        arguments: JSON.stringify(isObject(block.input) ? block.input : {}),
      });
    }
  }
  const raw = typeof b.stop_reason === 'string' ? b.stop_reason : null;
  return {
    id: typeof b.id === 'string' ? b.id : '',
    model: typeof b.model === 'string' ? b.model : '',
    content,
    finishReason: anthropicFinishReason(raw),
    rawFinishReason: raw,
    usage: readAnthropicUsage(b.usage),
  };
}

/** A canonical response as the `message` object an Anthropic client expects. */
export function toAnthropicResponse(res: CanonicalResponse, opts: { id?: string } = {}): AnthropicResponse {
  const content: AnthropicResponseBlock[] = [];
  for (const p of res.content) {
    if (p.type === 'text') content.push({ type: 'text', text: p.text });
    else if (p.type === 'thinking') content.push({ type: 'thinking', thinking: p.text, signature: p.signature ?? '' });
    else if (p.type === 'redacted_thinking') content.push({ type: 'redacted_thinking', data: p.data });
    else content.push({ type: 'tool_use', id: p.id, name: p.name, input: parseArguments(p.arguments) });
  }
  return {
    id: opts.id ?? (res.id.startsWith('msg_') ? res.id : `msg_${res.id}`),
    type: 'message',
    role: 'assistant',
    model: res.model,
    content,
    stop_reason: toAnthropicStopReason(res.finishReason),
    stop_sequence: null,
    usage: toAnthropicUsage(res.usage ?? { input: 0, output: 0, cachedInput: 0, cacheWrite: 0, reasoning: 0 }),
  };
}
