import type { CanonicalError } from '../canonical/error.types';
import type { CanonicalUsage, FinishReason } from '../canonical/response.types';
import type { StreamDecoder, StreamEncoder, StreamEvent, WireEvent } from '../canonical/stream.types';
import { isObject, parseArguments } from '../canonical/validate';
import { geminiStreamErrorEvent, parseGeminiError } from './errors';
import { geminiFinishReason, toGeminiFinishReason } from './response';
import type { GeminiPart, GeminiResponse } from './types';
import { readGeminiUsage, toGeminiUsage } from './usage';

const TRUNCATED: CanonicalError = { kind: 'truncated', status: 502, message: 'The upstream stream ended before the response was complete.' };

/**
 * Decodes an upstream `streamGenerateContent?alt=sse` stream: every event
 * is a whole GenerateContentResponse. Function calls arrive whole, so each
 * becomes start + one arguments delta + end. `usageMetadata` is cumulative:
 * the latest one replaces the previous.
 */
export class GeminiStreamDecoder implements StreamDecoder {
  usage: CanonicalUsage | null = null;
  finished = false;
  private started = false;
  private failed = false;
  private tools = 0;

  constructor(private readonly newId: (n: number) => string = (n) => `call_${n}`) {}

  push(_event: string | undefined, data: string, out: StreamEvent[]): void {
    let chunk: unknown;
    try {
      chunk = JSON.parse(data);
    } catch {
      return;
    }
    if (Array.isArray(chunk)) chunk = chunk[0]; // tolerate the JSON-array framing of a non-SSE stream
    if (!isObject(chunk)) return;
    if (chunk.error !== undefined) {
      this.failed = true;
      out.push({ type: 'error', error: parseGeminiError(500, chunk) });
      return;
    }
    if (!this.started) {
      this.started = true;
      out.push({ type: 'message_start', id: typeof chunk.responseId === 'string' ? chunk.responseId : '', model: typeof chunk.modelVersion === 'string' ? chunk.modelVersion : '' });
    }
    const cands = Array.isArray(chunk.candidates) ? chunk.candidates : [];
    const cand = isObject(cands[0]) ? cands[0] : undefined;
    if (cand) {
      const parts = isObject(cand.content) && Array.isArray(cand.content.parts) ? cand.content.parts : [];
      for (const p of parts) {
        if (!isObject(p)) continue;
        if (typeof p.text === 'string') {
          if (p.thought === true) {
            if (p.text.length > 0) out.push({ type: 'thinking_delta', text: p.text });
            if (typeof p.thoughtSignature === 'string') out.push({ type: 'thinking_signature', signature: p.thoughtSignature });
          } else if (p.text.length > 0) out.push({ type: 'text_delta', text: p.text });
        } else if (isObject(p.functionCall)) {
          const fc = p.functionCall;
          const index = this.tools++;
          const id = typeof fc.id === 'string' && fc.id.length > 0 ? fc.id : this.newId(index);
          out.push({ type: 'tool_call_start', index, id, name: typeof fc.name === 'string' ? fc.name : '' });
          out.push({ type: 'tool_call_delta', index, argumentsDelta: JSON.stringify(isObject(fc.args) ? fc.args : {}) });
          out.push({ type: 'tool_call_end', index });
        }
      }
    }
    const usage = readGeminiUsage(chunk.usageMetadata);
    const finishRaw = cand && typeof cand.finishReason === 'string' ? cand.finishReason : null;
    if (finishRaw !== null && !this.finished) {
      this.finished = true;
      out.push({ type: 'finish', reason: geminiFinishReason(finishRaw, this.tools > 0), rawReason: finishRaw });
    } else if (!cand && isObject(chunk.promptFeedback) && typeof chunk.promptFeedback.blockReason === 'string' && !this.finished) {
      this.finished = true;
      out.push({ type: 'finish', reason: 'content_filter', rawReason: chunk.promptFeedback.blockReason });
    }
    if (usage) {
      this.usage = usage;
      out.push({ type: 'usage', usage });
    }
  }

  end(out: StreamEvent[]): void {
    if (!this.failed && !this.finished) out.push({ type: 'error', error: TRUNCATED });
  }
}

export interface GeminiEncoderOptions {
  /** `responseId`; default: the upstream's message id. */
  id?: string;
  /** `modelVersion`; default: the upstream's model. */
  model?: string;
}

interface PendingCall {
  id: string;
  name: string;
  args: string;
}

/**
 * Encodes canonical events as Gemini stream chunks: one
 * GenerateContentResponse per text/thought delta; function calls are sent
 * whole as soon as their arguments are complete; the last chunk carries the
 * finishReason and usageMetadata.
 */
export class GeminiStreamEncoder implements StreamEncoder {
  private id: string;
  private model: string;
  private failed = false;
  private finish: FinishReason | null = null;
  private usage: CanonicalUsage | null = null;
  private readonly calls = new Map<number, PendingCall>();

  constructor(private readonly opts: GeminiEncoderOptions = {}) {
    this.id = opts.id ?? '';
    this.model = opts.model ?? '';
  }

  private chunk(parts: GeminiPart[], finish?: string): GeminiResponse {
    const cand: GeminiResponse['candidates'][number] = { content: { role: 'model', parts }, index: 0 };
    if (finish !== undefined) cand.finishReason = finish;
    return { candidates: [cand], modelVersion: this.model, responseId: this.id };
  }

  push(ev: StreamEvent, out: WireEvent[]): void {
    if (this.failed) return;
    switch (ev.type) {
      case 'message_start':
        if (this.opts.id === undefined) this.id = ev.id;
        if (this.opts.model === undefined) this.model = ev.model;
        return;
      case 'text_delta':
        out.push({ data: this.chunk([{ text: ev.text }]) });
        return;
      case 'thinking_delta':
        out.push({ data: this.chunk([{ text: ev.text, thought: true }]) });
        return;
      case 'thinking_signature':
        return;
      case 'tool_call_start':
        this.calls.set(ev.index, { id: ev.id, name: ev.name, args: '' });
        return;
      case 'tool_call_delta': {
        const c = this.calls.get(ev.index);
        if (c) c.args += ev.argumentsDelta;
        return;
      }
      case 'tool_call_end': {
        const c = this.calls.get(ev.index);
        if (!c) return;
        this.calls.delete(ev.index);
        out.push({ data: this.chunk([{ functionCall: { id: c.id, name: c.name, args: parseArguments(c.args) } }]) });
        return;
      }
      case 'finish':
        if (this.finish === null) this.finish = ev.reason;
        return;
      case 'usage':
        this.usage = ev.usage;
        return;
      case 'error':
        this.failed = true;
        out.push(geminiStreamErrorEvent(ev.error));
        return;
    }
  }

  end(out: WireEvent[]): void {
    if (this.failed) return;
    // Calls the upstream never closed are sent with what arrived of their arguments.
    const parts: GeminiPart[] = [];
    for (const c of this.calls.values()) parts.push({ functionCall: { id: c.id, name: c.name, args: parseArguments(c.args) } });
    this.calls.clear();
    if (parts.length === 0) parts.push({ text: '' });
    const last = this.chunk(parts, toGeminiFinishReason(this.finish ?? 'stop'));
    if (this.usage) last.usageMetadata = toGeminiUsage(this.usage);
    out.push({ data: last });
  }
}
