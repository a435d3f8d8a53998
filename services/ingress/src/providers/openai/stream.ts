import type { TokenUsage } from '@switchyard/contracts';
import { readOpenAIUsage } from './usage';
import { OutputTally } from '../../usage/token-estimate';

interface ChunkShape {
  id?: string;
  created?: number;
  model?: string;
  choices?: Array<{ delta?: { content?: string | null; reasoning_content?: string | null; tool_calls?: unknown[] }; finish_reason?: string | null }>;
  usage?: unknown;
  error?: unknown;
}

/**
 * Watches an OpenAI Chat Completions stream event by event as it is forwarded:
 * notes the first content, the finish, the served model and the usage, and
 * says whether the client should see the event. The usage-only chunk that
 * Switchyard asked for on the client's behalf is hidden from clients that did
 * not ask for it themselves.
 */
export class OpenAIStreamObserver {
  usage: TokenUsage | null = null;
  model = '';
  finished = false;
  sawContent = false;
  /** Generated text, for an estimate when no usage arrives. */
  readonly output = new OutputTally();
  upstreamError: unknown = undefined;
  /** A tool call's arguments started streaming: a break now cannot be continued elsewhere. */
  sawToolCall = false;
  /** With `keepText`: the visible text of choice 0 so far, and the stream's id and created. */
  text = '';
  id = '';
  created = 0;

  constructor(
    private readonly clientWantsUsage: boolean,
    private readonly keepText = false,
  ) {}

  /** Returns true when the event should be forwarded to the client. */
  observe(data: string): boolean {
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
            this.output.push(d.content);
            if (this.keepText && i === 0) this.text += d.content;
          }
          if (typeof d.reasoning_content === 'string' && d.reasoning_content.length > 0) {
            this.sawContent = true;
            this.output.push(d.reasoning_content);
          }
          if (d.tool_calls && d.tool_calls.length > 0) {
            this.sawContent = true;
            this.sawToolCall = true;
            for (const call of d.tool_calls) {
              const fn = (call as { function?: { name?: unknown; arguments?: unknown } }).function;
              if (typeof fn?.name === 'string') this.output.push(fn.name);
              if (typeof fn?.arguments === 'string') this.output.push(fn.arguments);
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
}
