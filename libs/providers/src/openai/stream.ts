import type { CanonicalError } from '../canonical/error.types';
import type { CanonicalUsage } from '../canonical/response.types';
import type { StreamDecoder, StreamEncoder, StreamEvent, WireEvent } from '../canonical/stream.types';
import { isObject } from '../canonical/validate';
import { openAIStreamErrorEvent, parseOpenAIError } from './errors';
import { openAIFinishReason, toOpenAIFinishReason } from './response';
import type { OpenAIChatChunk, OpenAIChunkDelta } from './types';
import { readOpenAIUsage, toOpenAIUsage } from './usage';

const TRUNCATED: CanonicalError = { kind: 'truncated', status: 502, message: 'The upstream stream ended before the response was complete.' };

/**
 * Decodes an upstream OpenAI Chat Completions stream (`data:` chunks and
 * `[DONE]`) into canonical events, event by event. Tool calls are keyed by
 * the upstream's `tool_calls[].index`; each open call is closed when the
 * choice finishes.
 */
export class OpenAIStreamDecoder implements StreamDecoder {
  usage: CanonicalUsage | null = null;
  finished = false;
  private started = false;
  private done = false;
  private failed = false;
  /** Upstream tool-call index → canonical index, for calls not yet closed. */
  private readonly open = new Map<number, number>();
  private nextTool = 0;

  push(_event: string | undefined, data: string, out: StreamEvent[]): void {
    if (data === '[DONE]') {
      this.done = true;
      return;
    }
    let chunk: unknown;
    try {
      chunk = JSON.parse(data);
    } catch {
      return; // a malformed event carries nothing we could forward
    }
    if (!isObject(chunk)) return;
    if (chunk.error !== undefined) {
      this.failed = true;
      out.push({ type: 'error', error: parseOpenAIError(500, chunk) });
      return;
    }
    if (!this.started) {
      this.started = true;
      out.push({ type: 'message_start', id: typeof chunk.id === 'string' ? chunk.id : '', model: typeof chunk.model === 'string' ? chunk.model : '' });
    }
    const choices = chunk.choices;
    if (Array.isArray(choices)) {
      for (const c of choices) {
        if (!isObject(c) || (c.index !== undefined && c.index !== 0)) continue;
        if (isObject(c.delta)) this.delta(c.delta as OpenAIChunkDelta, out);
        if (typeof c.finish_reason === 'string' && c.finish_reason.length > 0 && !this.finished) {
          this.closeTools(out);
          this.finished = true;
          out.push({ type: 'finish', reason: openAIFinishReason(c.finish_reason), rawReason: c.finish_reason });
        }
      }
    }
    if (chunk.usage) {
      const u = readOpenAIUsage(chunk.usage);
      if (u) {
        this.usage = u;
        out.push({ type: 'usage', usage: u });
      }
    }
  }

  private delta(d: OpenAIChunkDelta, out: StreamEvent[]): void {
    if (typeof d.reasoning_content === 'string' && d.reasoning_content.length > 0) out.push({ type: 'thinking_delta', text: d.reasoning_content });
    if (typeof d.content === 'string' && d.content.length > 0) out.push({ type: 'text_delta', text: d.content });
    if (Array.isArray(d.tool_calls)) {
      for (const tc of d.tool_calls) {
        if (!isObject(tc)) continue;
        const upstreamIndex = typeof tc.index === 'number' ? tc.index : 0;
        let index = this.open.get(upstreamIndex);
        if (index === undefined) {
          index = this.nextTool++;
          this.open.set(upstreamIndex, index);
          out.push({ type: 'tool_call_start', index, id: tc.id ?? `call_${index}`, name: tc.function?.name ?? '' });
        }
        const args = tc.function?.arguments;
        if (typeof args === 'string' && args.length > 0) out.push({ type: 'tool_call_delta', index, argumentsDelta: args });
      }
    }
  }

  private closeTools(out: StreamEvent[]): void {
    for (const index of this.open.values()) out.push({ type: 'tool_call_end', index });
    this.open.clear();
  }

  end(out: StreamEvent[]): void {
    if (this.failed) return;
    if (!this.finished) {
      this.closeTools(out);
      out.push({ type: 'error', error: TRUNCATED });
    }
  }
}

export interface OpenAIEncoderOptions {
  /** `created` of every chunk, epoch seconds. */
  created: number;
  /** Chunk id (`chatcmpl-…`); default: from the upstream's message_start. */
  id?: string;
  /** Model to report; default: the upstream's. */
  model?: string;
  /** The client asked for `stream_options.include_usage`. */
  includeUsage: boolean;
}

/**
 * Encodes canonical events as an OpenAI Chat Completions stream: a role
 * chunk, content / reasoning_content / tool_calls deltas, a finish chunk,
 * the usage chunk (when asked for) and `[DONE]`.
 */
export class OpenAIStreamEncoder implements StreamEncoder {
  private id: string;
  private model: string;
  private started = false;
  private finished = false;
  private failed = false;
  private usage: CanonicalUsage | null = null;

  constructor(private readonly opts: OpenAIEncoderOptions) {
    this.id = opts.id ?? '';
    this.model = opts.model ?? '';
  }

  private chunk(delta: OpenAIChunkDelta, finish: string | null): OpenAIChatChunk {
    const c: OpenAIChatChunk = {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.opts.created,
      model: this.model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    };
    if (this.opts.includeUsage) c.usage = null;
    return c;
  }

  private start(out: WireEvent[]): void {
    if (this.started) return;
    this.started = true;
    out.push({ data: this.chunk({ role: 'assistant', content: '' }, null) });
  }

  push(ev: StreamEvent, out: WireEvent[]): void {
    if (this.failed) return;
    switch (ev.type) {
      case 'message_start':
        if (this.opts.id === undefined) this.id = ev.id.startsWith('chatcmpl-') ? ev.id : `chatcmpl-${ev.id}`;
        if (this.opts.model === undefined) this.model = ev.model;
        this.start(out);
        return;
      case 'text_delta':
        this.start(out);
        out.push({ data: this.chunk({ content: ev.text }, null) });
        return;
      case 'thinking_delta':
        this.start(out);
        out.push({ data: this.chunk({ reasoning_content: ev.text }, null) });
        return;
      case 'thinking_signature':
      case 'tool_call_end':
        return;
      case 'tool_call_start':
        this.start(out);
        out.push({ data: this.chunk({ tool_calls: [{ index: ev.index, id: ev.id, type: 'function', function: { name: ev.name, arguments: '' } }] }, null) });
        return;
      case 'tool_call_delta':
        out.push({ data: this.chunk({ tool_calls: [{ index: ev.index, function: { arguments: ev.argumentsDelta } }] }, null) });
        return;
      case 'finish':
        if (this.finished) return;
        this.start(out);
        this.finished = true;
        out.push({ data: this.chunk({}, toOpenAIFinishReason(ev.reason)) });
        return;
      case 'usage':
        this.usage = ev.usage;
        return;
      case 'error':
        this.failed = true;
        out.push(openAIStreamErrorEvent(ev.error));
        return;
    }
  }

  end(out: WireEvent[]): void {
    if (this.failed) return;
    if (this.opts.includeUsage && this.usage) {
      out.push({ data: { id: this.id, object: 'chat.completion.chunk', created: this.opts.created, model: this.model, choices: [], usage: toOpenAIUsage(this.usage) } });
    }
    out.push({ data: '[DONE]' });
  }
}
