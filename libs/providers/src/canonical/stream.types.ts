import type { CanonicalError } from './error.types';
import type { CanonicalUsage, FinishReason } from './response.types';

/**
 * Typed stream events between an upstream decoder and a client encoder.
 * Tool calls are numbered by `index` (0, 1, … in the order they start).
 * A `usage` event carries the cumulative totals so far: each one replaces
 * the previous, so a consumer keeps the last and never adds them up.
 */
export type StreamEvent =
  | { type: 'message_start'; id: string; model: string }
  | { type: 'text_delta'; text: string }
  | { type: 'thinking_delta'; text: string }
  | { type: 'thinking_signature'; signature: string }
  | { type: 'tool_call_start'; index: number; id: string; name: string }
  | { type: 'tool_call_delta'; index: number; argumentsDelta: string }
  | { type: 'tool_call_end'; index: number }
  | { type: 'finish'; reason: FinishReason; rawReason: string | null }
  | { type: 'usage'; usage: CanonicalUsage }
  | { type: 'error'; error: CanonicalError };

export type StreamEventType = StreamEvent['type'];

/** One event for the client's wire: `event` is the SSE event name (Anthropic), `data` the JSON payload or `[DONE]`. */
export interface WireEvent {
  event?: string;
  data: unknown;
  /**
   * Write `data` as a bare JSON line instead of an SSE event: Gemini's
   * mid-stream error, which `@google/genai` only recognises in that form.
   * The edge should write it as its own chunk.
   */
  raw?: boolean;
}

/** Turns upstream SSE events into canonical events, keeping state across the stream. */
export interface StreamDecoder {
  /** Decodes one SSE event's `event` name and `data`, appending canonical events to `out`. */
  push(event: string | undefined, data: string, out: StreamEvent[]): void;
  /** The upstream closed the stream: a stream that never finished yields an `error` event (`truncated`). */
  end(out: StreamEvent[]): void;
  /** The last usage seen (cumulative), for billing what was delivered even after a break. */
  readonly usage: CanonicalUsage | null;
  readonly finished: boolean;
}

/** Turns canonical events into the client's wire events, keeping state across the stream. */
export interface StreamEncoder {
  push(event: StreamEvent, out: WireEvent[]): void;
  /** The stream is over (upstream ended): closing events for the client. */
  end(out: WireEvent[]): void;
}

/** Serialises a wire event as one SSE event (`event:` line when named, `data:` line, blank line), or a bare JSON line when `raw`. */
export function formatSse(ev: WireEvent): string {
  const data = typeof ev.data === 'string' ? ev.data : JSON.stringify(ev.data);
  if (ev.raw === true) return data + '\n';
  return ev.event === undefined ? 'data: ' + data + '\n\n' : 'event: ' + ev.event + '\ndata: ' + data + '\n\n';
}
