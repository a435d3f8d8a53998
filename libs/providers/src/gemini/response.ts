import type { CanonicalResponse, FinishReason, ResponsePart } from '../canonical/response.types';
import { isObject, parseArguments } from '../canonical/validate';
import type { GeminiPart, GeminiResponse } from './types';
import { readGeminiUsage, toGeminiUsage } from './usage';

const FILTERED = new Set(['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY', 'LANGUAGE']);

/**
 * Gemini `finishReason` → canonical. Gemini says STOP even when it called
 * functions, so `sawToolCall` turns that into `tool_calls`. Unknown reasons
 * count as `stop` (the raw one is kept).
 */
export function geminiFinishReason(raw: string | null | undefined, sawToolCall: boolean): FinishReason {
  if (raw === 'MAX_TOKENS') return 'length';
  if (raw !== null && raw !== undefined && FILTERED.has(raw)) return 'content_filter';
  if (raw === 'MALFORMED_FUNCTION_CALL' || raw === 'UNEXPECTED_TOOL_CALL') return 'error';
  return sawToolCall ? 'tool_calls' : 'stop';
}

export function toGeminiFinishReason(r: FinishReason): string {
  switch (r) {
    case 'length':
      return 'MAX_TOKENS';
    case 'content_filter':
      return 'SAFETY';
    case 'error':
      return 'OTHER';
    default:
      return 'STOP';
  }
}

/** Reads the parts of one candidate; `nextId` numbers function calls that came without an id. */
export function readGeminiParts(parts: unknown, nextId: () => string): ResponsePart[] {
  const out: ResponsePart[] = [];
  if (!Array.isArray(parts)) return out;
  for (const p of parts) {
    if (!isObject(p)) continue;
    if (typeof p.text === 'string') {
      if (p.thought === true) out.push(typeof p.thoughtSignature === 'string' ? { type: 'thinking', text: p.text, signature: p.thoughtSignature } : { type: 'thinking', text: p.text });
      else if (p.text.length > 0) out.push({ type: 'text', text: p.text });
    } else if (isObject(p.functionCall)) {
      const fc = p.functionCall;
      out.push({
        type: 'tool_call',
        id: typeof fc.id === 'string' && fc.id.length > 0 ? fc.id : nextId(),
        name: typeof fc.name === 'string' ? fc.name : '',
        arguments: JSON.stringify(isObject(fc.args) ? fc.args : {}),
      });
    }
  }
  return out;
}

/** Reads an upstream GenerateContentResponse (first candidate) into a canonical response. */
export function parseGeminiResponse(body: unknown, opts: { newId?: (n: number) => string } = {}): CanonicalResponse {
  const b = isObject(body) ? body : {};
  const candidates = Array.isArray(b.candidates) ? b.candidates : [];
  const cand = isObject(candidates[0]) ? candidates[0] : {};
  let n = 0;
  const newId = opts.newId ?? ((i: number) => `call_${i}`);
  const content = readGeminiParts(isObject(cand.content) ? cand.content.parts : undefined, () => newId(n++));
  let raw = typeof cand.finishReason === 'string' ? cand.finishReason : null;
  const blocked = isObject(b.promptFeedback) && typeof b.promptFeedback.blockReason === 'string' ? b.promptFeedback.blockReason : null;
  if (raw === null && blocked !== null) raw = 'SAFETY';
  return {
    id: typeof b.responseId === 'string' ? b.responseId : '',
    model: typeof b.modelVersion === 'string' ? b.modelVersion : '',
    content,
    finishReason: geminiFinishReason(raw, content.some((p) => p.type === 'tool_call')),
    rawFinishReason: blocked ?? raw,
    usage: readGeminiUsage(b.usageMetadata),
  };
}

/** Gemini parts for canonical response parts (thinking as `thought: true` text parts). */
export function toGeminiParts(content: readonly ResponsePart[]): GeminiPart[] {
  const parts: GeminiPart[] = [];
  for (const p of content) {
    if (p.type === 'text') parts.push({ text: p.text });
    else if (p.type === 'thinking') parts.push(p.signature ? { text: p.text, thought: true, thoughtSignature: p.signature } : { text: p.text, thought: true });
    else if (p.type === 'tool_call') parts.push({ functionCall: { id: p.id, name: p.name, args: parseArguments(p.arguments) } });
  }
  return parts;
}

/** A canonical response as the GenerateContentResponse a Gemini client expects. */
export function toGeminiResponse(res: CanonicalResponse): GeminiResponse {
  const out: GeminiResponse = {
    candidates: [{ content: { role: 'model', parts: toGeminiParts(res.content) }, finishReason: toGeminiFinishReason(res.finishReason), index: 0 }],
    modelVersion: res.model,
    responseId: res.id,
  };
  if (res.usage) out.usageMetadata = toGeminiUsage(res.usage);
  return out;
}
