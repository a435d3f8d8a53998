/** Spec helpers: named fixtures and running SSE text through decoders/encoders. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { SseParser, type SseEvent } from '../src/sse/sse.parser';
import { formatSse, type StreamDecoder, type StreamEncoder, type StreamEvent, type WireEvent } from '../src/canonical/stream.types';

const SRC = resolve(__dirname, '../src');

/** A fixture's text: `fixture('anthropic', 'messages-stream-thinking.sse')`. */
export function fixture(protocol: string, name: string): string {
  return readFileSync(resolve(SRC, protocol, 'fixtures', name), 'utf8');
}

export function fixtureJson(protocol: string, name: string): unknown {
  return JSON.parse(fixture(protocol, name));
}

/** SSE text → SSE events, fed in pieces of `split` bytes (whole when 0). */
export function sseEvents(text: string, split = 0): SseEvent[] {
  const bytes = Buffer.from(text);
  const p = new SseParser();
  const out: SseEvent[] = [];
  if (split <= 0) p.push(bytes, out);
  else for (let i = 0; i < bytes.length; i += split) p.push(bytes.subarray(i, i + split), out);
  p.end(out);
  return out;
}

/** Runs SSE text through a decoder (and its `end`). */
export function decode(text: string, decoder: StreamDecoder, split = 0): StreamEvent[] {
  const out: StreamEvent[] = [];
  for (const e of sseEvents(text, split)) decoder.push(e.event, e.data, out);
  decoder.end(out);
  return out;
}

/** Runs canonical events through an encoder (and its `end`). */
export function encode(events: readonly StreamEvent[], encoder: StreamEncoder, end = true): WireEvent[] {
  const out: WireEvent[] = [];
  for (const e of events) encoder.push(e, out);
  if (end) encoder.end(out);
  return out;
}

/** Wire events → the SSE text a client receives → parsed back: `{event, data}` with JSON data parsed. */
export function onTheWire(events: readonly WireEvent[]): Array<{ event: string | undefined; data: unknown }> {
  const text = events.map(formatSse).join('');
  return sseEvents(text).map((e) => ({ event: e.event, data: e.data === '[DONE]' ? e.data : JSON.parse(e.data) }));
}

/** Canonical events folded into what a client would end up with. */
export interface Folded {
  text: string;
  thinking: string;
  tools: Array<{ id: string; name: string; arguments: string }>;
  finish: string | null;
  usage: unknown;
  errors: unknown[];
}

export function fold(events: readonly StreamEvent[]): Folded {
  const f: Folded = { text: '', thinking: '', tools: [], finish: null, usage: null, errors: [] };
  for (const e of events) {
    if (e.type === 'text_delta') f.text += e.text;
    else if (e.type === 'thinking_delta') f.thinking += e.text;
    else if (e.type === 'tool_call_start') f.tools[e.index] = { id: e.id, name: e.name, arguments: '' };
    else if (e.type === 'tool_call_delta') f.tools[e.index]!.arguments += e.argumentsDelta;
    else if (e.type === 'finish') f.finish = e.reason;
    else if (e.type === 'usage') f.usage = e.usage;
    else if (e.type === 'error') f.errors.push(e.error);
  }
  return f;
}
