import type { CanonicalError } from '../canonical/error.types';
import type { CanonicalUsage, FinishReason } from '../canonical/response.types';
import type { StreamDecoder, StreamEncoder, StreamEvent, WireEvent } from '../canonical/stream.types';
import { isObject } from '../canonical/validate';
import { anthropicStreamErrorEvent, parseAnthropicError } from './errors';
import { anthropicFinishReason, toAnthropicStopReason } from './response';
import { AnthropicUsageTracker, toAnthropicUsage } from './usage';

const TRUNCATED: CanonicalError = { kind: 'truncated', status: 502, message: 'The upstream stream ended before the response was complete.' };

/**
 * Decodes an upstream Anthropic Messages stream (message_start,
 * content_block_start/delta/stop, message_delta, message_stop, ping, error)
 * into canonical events. Usage is merged across message_start and
 * message_delta (cumulative values replace, never add).
 */
export class AnthropicStreamDecoder implements StreamDecoder {
  usage: CanonicalUsage | null = null;
  finished = false;
  private stopped = false;
  private failed = false;
  private readonly tracker = new AnthropicUsageTracker();
  /** Content block index → canonical tool index, for tool_use blocks. */
  private readonly tools = new Map<number, number>();
  private nextTool = 0;

  push(event: string | undefined, data: string, out: StreamEvent[]): void {
    let ev: unknown;
    try {
      ev = JSON.parse(data);
    } catch {
      return;
    }
    if (!isObject(ev)) return;
    const type = typeof ev.type === 'string' ? ev.type : event;
    switch (type) {
      case 'message_start': {
        const m = isObject(ev.message) ? ev.message : {};
        out.push({ type: 'message_start', id: typeof m.id === 'string' ? m.id : '', model: typeof m.model === 'string' ? m.model : '' });
        this.mergeUsage(m.usage, out);
        return;
      }
      case 'content_block_start': {
        const index = typeof ev.index === 'number' ? ev.index : 0;
        const block = isObject(ev.content_block) ? ev.content_block : {};
        if (block.type === 'tool_use') {
          const t = this.nextTool++;
          this.tools.set(index, t);
          out.push({ type: 'tool_call_start', index: t, id: typeof block.id === 'string' ? block.id : `toolu_${t}`, name: typeof block.name === 'string' ? block.name : '' });
        } else if (block.type === 'text' && typeof block.text === 'string' && block.text.length > 0) {
          out.push({ type: 'text_delta', text: block.text });
        } else if (block.type === 'thinking' && typeof block.thinking === 'string' && block.thinking.length > 0) {
          out.push({ type: 'thinking_delta', text: block.thinking });
        }
        return;
      }
      case 'content_block_delta': {
        const d = isObject(ev.delta) ? ev.delta : {};
        if (d.type === 'text_delta' && typeof d.text === 'string') out.push({ type: 'text_delta', text: d.text });
        else if (d.type === 'thinking_delta' && typeof d.thinking === 'string') out.push({ type: 'thinking_delta', text: d.thinking });
        else if (d.type === 'signature_delta' && typeof d.signature === 'string') out.push({ type: 'thinking_signature', signature: d.signature });
        else if (d.type === 'input_json_delta' && typeof d.partial_json === 'string') {
          const t = this.tools.get(typeof ev.index === 'number' ? ev.index : 0);
          if (t !== undefined && d.partial_json.length > 0) out.push({ type: 'tool_call_delta', index: t, argumentsDelta: d.partial_json });
        }
        return;
      }
      case 'content_block_stop': {
        const index = typeof ev.index === 'number' ? ev.index : 0;
        const t = this.tools.get(index);
        if (t !== undefined) {
          this.tools.delete(index);
          out.push({ type: 'tool_call_end', index: t });
        }
        return;
      }
      case 'message_delta': {
        const d = isObject(ev.delta) ? ev.delta : {};
        if (typeof d.stop_reason === 'string' && !this.finished) {
          this.finished = true;
          out.push({ type: 'finish', reason: anthropicFinishReason(d.stop_reason), rawReason: d.stop_reason });
        }
        this.mergeUsage(ev.usage, out);
        return;
      }
      case 'message_stop':
        this.stopped = true;
        return;
      case 'error':
        this.failed = true;
        out.push({ type: 'error', error: parseAnthropicError(500, ev) });
        return;
      default:
        return; // ping and event types added later
    }
  }

  private mergeUsage(raw: unknown, out: StreamEvent[]): void {
    if (raw === undefined) return;
    const u = this.tracker.merge(raw);
    if (u) {
      this.usage = u;
      out.push({ type: 'usage', usage: u });
    }
  }

  end(out: StreamEvent[]): void {
    if (this.failed) return;
    if (!this.finished || !this.stopped) {
      for (const t of this.tools.values()) out.push({ type: 'tool_call_end', index: t });
      this.tools.clear();
      if (!this.finished) out.push({ type: 'error', error: TRUNCATED });
    }
  }
}

export interface AnthropicEncoderOptions {
  /** Message id (`msg_…`); default: from the upstream's message_start. */
  id?: string;
  /** Model to report; default: the upstream's. */
  model?: string;
}

type OpenBlock = 'text' | 'thinking' | 'tool' | null;

/**
 * Encodes canonical events as Anthropic's stream: message_start, one
 * content block per run of text / thinking / a tool call
 * (content_block_start, deltas, content_block_stop), then message_delta
 * with the stop reason and the usage, and message_stop. message_start is
 * held back until the first content, so input usage known by then is in it.
 */
export class AnthropicStreamEncoder implements StreamEncoder {
  private id: string;
  private model: string;
  private started = false;
  private failed = false;
  private block: OpenBlock = null;
  private blockIndex = -1;
  private openTool = -1;
  /** Canonical tool index → its content block index. */
  private readonly toolBlocks = new Map<number, number>();
  private finish: FinishReason | null = null;
  private usage: CanonicalUsage | null = null;

  constructor(private readonly opts: AnthropicEncoderOptions = {}) {
    this.id = opts.id ?? '';
    this.model = opts.model ?? '';
  }

  private start(out: WireEvent[]): void {
    if (this.started) return;
    this.started = true;
    const u = this.usage ? toAnthropicUsage(this.usage) : { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
    out.push({
      event: 'message_start',
      data: {
        type: 'message_start',
        message: { id: this.id, type: 'message', role: 'assistant', model: this.model, content: [], stop_reason: null, stop_sequence: null, usage: { ...u, output_tokens: Math.min(u.output_tokens, 1) } },
      },
    });
  }

  private open(kind: Exclude<OpenBlock, null>, contentBlock: Record<string, unknown>, out: WireEvent[]): void {
    this.close(out);
    this.start(out);
    this.block = kind;
    this.blockIndex++;
    out.push({ event: 'content_block_start', data: { type: 'content_block_start', index: this.blockIndex, content_block: contentBlock } });
  }

  private close(out: WireEvent[]): void {
    if (this.block === null) return;
    out.push({ event: 'content_block_stop', data: { type: 'content_block_stop', index: this.blockIndex } });
    this.block = null;
    this.openTool = -1;
  }

  private delta(delta: Record<string, unknown>, out: WireEvent[], index = this.blockIndex): void {
    out.push({ event: 'content_block_delta', data: { type: 'content_block_delta', index, delta } });
  }

  push(ev: StreamEvent, out: WireEvent[]): void {
    if (this.failed) return;
    switch (ev.type) {
      case 'message_start':
        if (this.opts.id === undefined) this.id = ev.id.startsWith('msg_') ? ev.id : `msg_${ev.id}`;
        if (this.opts.model === undefined) this.model = ev.model;
        return;
      case 'usage':
        this.usage = ev.usage;
        return;
      case 'text_delta':
        if (this.block !== 'text') this.open('text', { type: 'text', text: '' }, out);
        this.delta({ type: 'text_delta', text: ev.text }, out);
        return;
      case 'thinking_delta':
        if (this.block !== 'thinking') this.open('thinking', { type: 'thinking', thinking: '', signature: '' }, out);
        this.delta({ type: 'thinking_delta', thinking: ev.text }, out);
        return;
      case 'thinking_signature':
        if (this.block !== 'thinking') this.open('thinking', { type: 'thinking', thinking: '', signature: '' }, out);
        this.delta({ type: 'signature_delta', signature: ev.signature }, out);
        return;
      case 'tool_call_start':
        this.open('tool', { type: 'tool_use', id: ev.id, name: ev.name, input: {} }, out);
        this.openTool = ev.index;
        this.toolBlocks.set(ev.index, this.blockIndex);
        return;
      case 'tool_call_delta': {
        // Arguments of an earlier call arriving after a later one started
        // (interleaved parallel calls) still go to that call's block: clients
        // accumulate input_json_delta by block index.
        const block = this.toolBlocks.get(ev.index);
        if (block !== undefined) this.delta({ type: 'input_json_delta', partial_json: ev.argumentsDelta }, out, block);
        return;
      }
      case 'tool_call_end':
        if (this.block === 'tool' && this.openTool === ev.index) this.close(out);
        return;
      case 'finish':
        if (this.finish === null) this.finish = ev.reason;
        return;
      case 'error':
        this.failed = true;
        out.push(anthropicStreamErrorEvent(ev.error));
        return;
    }
  }

  end(out: WireEvent[]): void {
    if (this.failed) return;
    this.start(out);
    this.close(out);
    const usage = this.usage ? toAnthropicUsage(this.usage) : { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
    out.push({
      event: 'message_delta',
      data: { type: 'message_delta', delta: { stop_reason: toAnthropicStopReason(this.finish ?? 'stop'), stop_sequence: null }, usage },
    });
    out.push({ event: 'message_stop', data: { type: 'message_stop' } });
  }
}
