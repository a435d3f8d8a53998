import type { CanonicalError } from '../canonical/error.types';
import type { CanonicalRequest } from '../canonical/request.types';
import type { CanonicalUsage, FinishReason } from '../canonical/response.types';
import type { StreamEncoder, StreamEvent, WireEvent } from '../canonical/stream.types';
import { incompleteOf, itemId, responseShell, responsesId, toResponsesUsage, type ResponsesRenderContext } from './response';
import type { ResponsesFunctionCallItem, ResponsesMessageItem, ResponsesReasoningItem, ResponsesResponse, ResponsesStreamEvent } from './types';

export interface ResponsesEncoderOptions {
  created: number;
  requestId?: string;
  request?: CanonicalRequest;
  /** Clock for `completed_at`, epoch ms (default Date.now). */
  now?: () => number;
}

/** The `response.failed` error code for a canonical error (the SDK's `ResponseError.code`). */
function failureCode(err: CanonicalError): string {
  return err.kind === 'rate_limit' ? 'rate_limit_exceeded' : 'server_error';
}

/**
 * Encodes canonical events as an OpenAI Responses stream, event by event:
 * `response.created`, `response.in_progress`, then per output item
 * `output_item.added` → content part / deltas → `output_item.done`, and
 * `response.completed` (or `response.incomplete` at the token limit) with
 * the whole response and usage. A failure ends it with `response.failed`.
 * Every event is named (`event:`) and numbered (`sequence_number`).
 *
 * The encoder keeps the output it has sent (the final event repeats it, as
 * the API does), so its memory grows with the answer.
 */
export class ResponsesStreamEncoder implements StreamEncoder {
  private seq = 0;
  private response: ResponsesResponse | null = null;
  /** The open message or reasoning item (text and thinking stream into one at a time). */
  private openText: ResponsesMessageItem | ResponsesReasoningItem | null = null;
  private openTextIndex = -1;
  /** Canonical tool-call index → [output index, item] for calls still open. */
  private readonly openCalls = new Map<number, [number, ResponsesFunctionCallItem]>();
  private finish: FinishReason | null = null;
  private usage: CanonicalUsage | null = null;
  private done = false;

  constructor(private readonly opts: ResponsesEncoderOptions) {}

  private emit(out: WireEvent[], ev: ResponsesStreamEvent): void {
    out.push({ event: ev.type, data: ev });
  }

  private next(): number {
    return this.seq++;
  }

  /**
   * The response as a lifecycle event carries it. Before the end the live
   * object still changes (status, output, usage) while the event waits to be
   * serialised, so it gets its own top level; nested objects (tools, text)
   * never change. The final event takes the live object: nothing changes after.
   */
  private snapshot(final = false): ResponsesResponse {
    const r = this.response!;
    return final ? r : { ...r, output: [...r.output] };
  }

  private start(out: WireEvent[], upstreamId: string, model: string): ResponsesResponse {
    if (this.response) return this.response;
    const ctx: ResponsesRenderContext = { created: this.opts.created };
    if (this.opts.request) ctx.request = this.opts.request;
    const id = responsesId(this.opts.requestId, upstreamId.length > 0 ? upstreamId : `${this.opts.created}`);
    this.response = responseShell(id, model || (this.opts.request?.model ?? ''), ctx);
    this.emit(out, { type: 'response.created', response: this.snapshot(), sequence_number: this.next() });
    this.emit(out, { type: 'response.in_progress', response: this.snapshot(), sequence_number: this.next() });
    return this.response;
  }

  push(ev: StreamEvent, out: WireEvent[]): void {
    if (this.done) return;
    if (ev.type === 'message_start') {
      this.start(out, ev.id, ev.model);
      return;
    }
    const r = this.start(out, '', '');
    switch (ev.type) {
      case 'text_delta': {
        const item = this.openText?.type === 'message' ? this.openText : this.openMessage(out, r);
        item.content[0]!.text += ev.text;
        this.emit(out, { type: 'response.output_text.delta', item_id: item.id, output_index: this.openTextIndex, content_index: 0, delta: ev.text, logprobs: [], sequence_number: this.next() });
        return;
      }
      case 'thinking_delta': {
        const item = this.openText?.type === 'reasoning' ? this.openText : this.openReasoning(out, r);
        item.content![0]!.text += ev.text;
        this.emit(out, { type: 'response.reasoning_text.delta', item_id: item.id, output_index: this.openTextIndex, content_index: 0, delta: ev.text, sequence_number: this.next() });
        return;
      }
      case 'thinking_signature':
        if (this.openText?.type === 'reasoning') this.openText.encrypted_content = ev.signature;
        return;
      case 'tool_call_start': {
        this.closeText(out, 'completed');
        const index = r.output.length;
        const item: ResponsesFunctionCallItem = { type: 'function_call', id: itemId('fc', r.id, index), call_id: ev.id, name: ev.name, arguments: '', status: 'in_progress' };
        r.output.push(item);
        this.openCalls.set(ev.index, [index, item]);
        this.emit(out, { type: 'response.output_item.added', output_index: index, item: { ...item }, sequence_number: this.next() });
        return;
      }
      case 'tool_call_delta': {
        const open = this.openCalls.get(ev.index);
        if (!open) return;
        open[1].arguments += ev.argumentsDelta;
        this.emit(out, { type: 'response.function_call_arguments.delta', item_id: open[1].id, output_index: open[0], delta: ev.argumentsDelta, sequence_number: this.next() });
        return;
      }
      case 'tool_call_end':
        this.closeCall(out, ev.index, 'completed');
        return;
      case 'finish':
        this.finish = ev.reason;
        return;
      case 'usage':
        this.usage = ev.usage;
        return;
      case 'error':
        this.fail(out, ev.error);
        return;
    }
  }

  private openMessage(out: WireEvent[], r: ResponsesResponse): ResponsesMessageItem {
    this.closeText(out, 'completed');
    const index = r.output.length;
    const item: ResponsesMessageItem = { type: 'message', id: itemId('msg', r.id, index), role: 'assistant', status: 'in_progress', content: [] };
    r.output.push(item);
    this.openText = item;
    this.openTextIndex = index;
    this.emit(out, { type: 'response.output_item.added', output_index: index, item: { ...item, content: [] }, sequence_number: this.next() });
    const part = { type: 'output_text' as const, text: '', annotations: [], logprobs: [] };
    item.content.push({ ...part });
    this.emit(out, { type: 'response.content_part.added', item_id: item.id, output_index: index, content_index: 0, part, sequence_number: this.next() });
    return item;
  }

  private openReasoning(out: WireEvent[], r: ResponsesResponse): ResponsesReasoningItem {
    this.closeText(out, 'completed');
    const index = r.output.length;
    const item: ResponsesReasoningItem = { type: 'reasoning', id: itemId('rs', r.id, index), summary: [], content: [], status: 'in_progress' };
    r.output.push(item);
    this.openText = item;
    this.openTextIndex = index;
    this.emit(out, { type: 'response.output_item.added', output_index: index, item: { ...item, content: [] }, sequence_number: this.next() });
    const part = { type: 'reasoning_text' as const, text: '' };
    item.content!.push({ ...part });
    this.emit(out, { type: 'response.content_part.added', item_id: item.id, output_index: index, content_index: 0, part, sequence_number: this.next() });
    return item;
  }

  private closeText(out: WireEvent[], status: 'completed' | 'incomplete'): void {
    const item = this.openText;
    if (!item) return;
    const index = this.openTextIndex;
    this.openText = null;
    item.status = status;
    if (item.type === 'message') {
      const part = item.content[0]!;
      this.emit(out, { type: 'response.output_text.done', item_id: item.id, output_index: index, content_index: 0, text: part.text, logprobs: [], sequence_number: this.next() });
      this.emit(out, { type: 'response.content_part.done', item_id: item.id, output_index: index, content_index: 0, part, sequence_number: this.next() });
    } else {
      const part = item.content![0]!;
      this.emit(out, { type: 'response.reasoning_text.done', item_id: item.id, output_index: index, content_index: 0, text: part.text, sequence_number: this.next() });
      this.emit(out, { type: 'response.content_part.done', item_id: item.id, output_index: index, content_index: 0, part, sequence_number: this.next() });
    }
    // A closed item never changes again: the event can carry it as it is.
    this.emit(out, { type: 'response.output_item.done', output_index: index, item, sequence_number: this.next() });
  }

  private closeCall(out: WireEvent[], index: number, status: 'completed' | 'incomplete'): void {
    const open = this.openCalls.get(index);
    if (!open) return;
    this.openCalls.delete(index);
    const [outputIndex, item] = open;
    item.status = status;
    this.emit(out, { type: 'response.function_call_arguments.done', item_id: item.id, output_index: outputIndex, name: item.name, arguments: item.arguments, sequence_number: this.next() });
    this.emit(out, { type: 'response.output_item.done', output_index: outputIndex, item, sequence_number: this.next() });
  }

  private closeAll(out: WireEvent[], status: 'completed' | 'incomplete'): void {
    this.closeText(out, status);
    for (const index of [...this.openCalls.keys()]) this.closeCall(out, index, status);
  }

  /** Ends the stream with `response.failed`: the output so far, and the error. */
  private fail(out: WireEvent[], err: CanonicalError): void {
    const r = this.start(out, '', '');
    this.done = true;
    r.status = 'failed';
    r.error = { code: failureCode(err), message: err.message };
    if (this.usage) r.usage = toResponsesUsage(this.usage);
    this.emit(out, { type: 'response.failed', response: this.snapshot(true), sequence_number: this.next() });
  }

  end(out: WireEvent[]): void {
    if (this.done) return;
    const r = this.start(out, '', '');
    this.done = true;
    const incomplete = incompleteOf(this.finish);
    this.closeAll(out, incomplete ? 'incomplete' : 'completed');
    r.status = incomplete ? 'incomplete' : 'completed';
    r.incomplete_details = incomplete;
    if (!incomplete) r.completed_at = Math.floor((this.opts.now ?? Date.now)() / 1000);
    if (this.usage) r.usage = toResponsesUsage(this.usage);
    this.emit(out, { type: incomplete ? 'response.incomplete' : 'response.completed', response: this.snapshot(true), sequence_number: this.next() });
  }
}

/**
 * The event that ends a Responses stream on a failure outside the encoder:
 * an `error` event (the SDK surfaces it as an event; the stream then ends).
 */
export function responsesStreamErrorEvent(err: CanonicalError, sequenceNumber = 0): WireEvent {
  const data: ResponsesStreamEvent = { type: 'error', code: err.code ?? failureCode(err), message: err.message, param: err.param ?? null, sequence_number: sequenceNumber };
  return { event: 'error', data };
}
