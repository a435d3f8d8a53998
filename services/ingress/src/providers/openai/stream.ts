import type { TokenUsage } from '@switchyard/contracts';
import { readOpenAIUsage } from './usage';
import { OutputTally } from '../../usage/token-estimate';

interface ChoiceShape {
  delta?: { content?: string | null; reasoning_content?: string | null; tool_calls?: unknown[] };
  finish_reason?: string | null;
}

interface ChunkShape {
  id?: string;
  created?: number;
  model?: string;
  choices?: ChoiceShape[];
  usage?: unknown;
  error?: unknown;
}

/** Raw events whose text is counted only when an estimate is asked for; beyond this many characters they are counted now. */
const MAX_DEFERRED_CHARS = 32 * 1024;

/**
 * Watches an OpenAI Chat Completions stream event by event as it is forwarded:
 * notes the first content, the finish, the served model and the usage, and
 * says whether the client should see the event. The usage-only chunk that
 * Switchyard asked for on the client's behalf is hidden from clients that did
 * not ask for it themselves.
 *
 * After the first content, an ordinary content chunk (no usage, error, finish
 * or tool call, the same model) is recognised from its text without being
 * parsed: only the output tally needs it, and that is wanted only when the
 * upstream reports no usage, so such chunks are kept raw and parsed then.
 */
export class OpenAIStreamObserver {
  usage: TokenUsage | null = null;
  model = '';
  finished = false;
  sawContent = false;
  upstreamError: unknown = undefined;
  /** A tool call's arguments started streaming: a break now cannot be continued elsewhere. */
  sawToolCall = false;
  /** With `keepText`: the visible text of choice 0 so far, and the stream's id and created. */
  text = '';
  id = '';
  created = 0;
  private readonly tally = new OutputTally();
  /** Content chunks not parsed yet, in order, all before anything counted after them. */
  private deferred: string[] = [];
  private deferredChars = 0;
  private notPlain: RegExp | null = null;
  private notPlainModel = '';

  constructor(
    private readonly clientWantsUsage: boolean,
    private readonly keepText = false,
  ) {}

  /** Generated text, for an estimate when no usage arrives. */
  get output(): OutputTally {
    if (this.deferred.length > 0) this.countDeferred();
    return this.tally;
  }

  /** Returns true when the event should be forwarded to the client. */
  observe(data: string): boolean {
    if (this.sawContent && !this.keepText && this.isPlainContent(data)) {
      this.deferred.push(data);
      this.deferredChars += data.length;
      if (this.deferredChars > MAX_DEFERRED_CHARS) this.countDeferred();
      return true;
    }
    let chunk: ChunkShape;
    try {
      chunk = JSON.parse(data) as ChunkShape;
    } catch {
      return true; // not ours to judge: forward as is
    }
    if (chunk.error !== undefined) {
      this.upstreamError = chunk.error;
      return true;
    }
    if (typeof chunk.model === 'string' && chunk.model) this.model = chunk.model;
    if (this.keepText && this.id === '' && typeof chunk.id === 'string') {
      this.id = chunk.id;
      if (typeof chunk.created === 'number') this.created = chunk.created;
    }
    const choices = chunk.choices;
    if (choices) {
      for (let i = 0; i < choices.length; i++) {
        const c = choices[i]!;
        const d = c.delta;
        if (d) {
          if (typeof d.content === 'string' && d.content.length > 0) {
            this.sawContent = true;
            this.count(d.content);
            if (this.keepText && i === 0) this.text += d.content;
          }
          if (typeof d.reasoning_content === 'string' && d.reasoning_content.length > 0) {
            this.sawContent = true;
            this.count(d.reasoning_content);
          }
          if (d.tool_calls && d.tool_calls.length > 0) {
            this.sawContent = true;
            this.sawToolCall = true;
            for (const call of d.tool_calls) {
              const fn = (call as { function?: { name?: unknown; arguments?: unknown } }).function;
              if (typeof fn?.name === 'string') this.count(fn.name);
              if (typeof fn?.arguments === 'string') this.count(fn.arguments);
            }
          }
        }
        if (c.finish_reason) this.finished = true;
      }
    }
    if (chunk.usage) {
      const u = readOpenAIUsage(chunk.usage);
      if (u) this.usage = u;
      if (!this.clientWantsUsage && (!choices || choices.length === 0)) return false;
    }
    return true;
  }

  private count(text: string): void {
    if (this.deferred.length > 0) this.countDeferred();
    this.tally.push(text);
  }

  /** The deferred chunks' text into the tally, as `observe` would have counted it. */
  private countDeferred(): void {
    const raw = this.deferred;
    this.deferred = [];
    this.deferredChars = 0;
    for (const data of raw) {
      let choices: ChoiceShape[] | undefined;
      try {
        choices = (JSON.parse(data) as ChunkShape).choices;
      } catch {
        continue;
      }
      if (!choices) continue;
      for (const c of choices) {
        const d = c.delta;
        if (!d) continue;
        if (typeof d.content === 'string' && d.content.length > 0) this.tally.push(d.content);
        if (typeof d.reasoning_content === 'string' && d.reasoning_content.length > 0) this.tally.push(d.reasoning_content);
      }
    }
  }

  /**
   * True when parsing `data` could change nothing but the tally: an object
   * with no usage (other than null), error, tool call or finish reason
   * (other than null), and no model other than the one seen. One regular
   * expression over the text (a quarter of JSON.parse's time); a string value
   * that merely looks like one of these keys sends the chunk to the parser,
   * and so does any \u escape (a key could be spelt with one).
   */
  private isPlainContent(data: string): boolean {
    if (data.charCodeAt(0) !== 123 /* { */ || this.model === '') return false;
    if (this.notPlain === null || this.notPlainModel !== this.model) {
      this.notPlain = notPlainPattern(this.model);
      this.notPlainModel = this.model;
    }
    return !this.notPlain.test(data);
  }
}

const notPlainPatterns = new Map<string, RegExp>();

/** Matches what `isPlainContent` must send to the parser, for chunks of `model`. */
function notPlainPattern(model: string): RegExp {
  let re = notPlainPatterns.get(model);
  if (!re) {
    const quoted = JSON.stringify(model).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    // The lookaheads take the whitespace after the colon themselves: outside them, backtracking could skip it.
    re = new RegExp(`\\\\u|"(?:error|tool_calls)"|"(?:usage|finish_reason)"[ \\t\\r\\n]*:(?![ \\t\\r\\n]*null)|"model"[ \\t\\r\\n]*:(?![ \\t\\r\\n]*${quoted})`);
    if (notPlainPatterns.size >= 256) notPlainPatterns.clear();
    notPlainPatterns.set(model, re);
  }
  return re;
}
