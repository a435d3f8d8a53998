import { StringDecoder } from 'node:string_decoder';

export interface SseEvent {
  /** The `event:` field, when the server sent one. */
  event: string | undefined;
  /** `data:` lines joined with "\n", as the SSE spec says. */
  data: string;
}

/**
 * Incremental Server-Sent Events parser (WHATWG rules): bytes in any split,
 * LF, CRLF or CR line ends, multi-line `data:`, comments, and a final event
 * without a trailing blank line (flushed by `end`), and a bare one-line JSON
 * object between events (a mid-stream error some servers send without
 * `data:`) as a data event of its own. It decodes UTF-8 with a
 * streaming decoder so a character split across chunks is not mangled.
 */
export class SseParser {
  /** Node's native UTF-8 decoder: holds a split character back until its bytes arrive. */
  private readonly decoder = new StringDecoder('utf8');
  private started = false;
  private buf = '';
  private data: string[] = [];
  private eventName: string | undefined;
  private sawCR = false;

  /** Parses a chunk, appending complete events to `out`. */
  push(chunk: Uint8Array, out: SseEvent[]): void {
    this.feed(this.text(this.decoder.write(chunk)), out);
  }

  /** Ends the stream: a last event left without its blank line is still delivered. */
  end(out: SseEvent[]): void {
    this.feed(this.text(this.decoder.end()), out);
    if (this.buf.length > 0) {
      this.line(this.buf, out);
      this.buf = '';
    }
    this.dispatch(out);
  }

  /** Decoded text, without the byte-order mark a stream may start with (as TextDecoder and the SSE spec drop it). */
  private text(decoded: string): string {
    if (this.started || decoded.length === 0) return decoded;
    this.started = true;
    return decoded.charCodeAt(0) === 0xfeff ? decoded.slice(1) : decoded;
  }

  private feed(text: string, out: SseEvent[]): void {
    let s = text;
    if (this.sawCR && s.startsWith('\n')) s = s.slice(1);
    this.sawCR = false;
    if (s.indexOf('\r') === -1) {
      // LF line ends only (nearly every server): the engine's search finds them faster than a loop over characters.
      let start = 0;
      for (let i = s.indexOf('\n'); i !== -1; i = s.indexOf('\n', start)) {
        const line = this.buf.length > 0 ? this.buf + s.slice(start, i) : s.slice(start, i);
        this.buf = '';
        this.line(line, out);
        start = i + 1;
      }
      if (start < s.length) this.buf += s.slice(start);
      return;
    }
    let start = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      const line = this.buf.length > 0 ? this.buf + s.slice(start, i) : s.slice(start, i);
      this.buf = '';
      this.line(line, out);
      if (c === 13) {
        if (i + 1 < s.length) {
          if (s.charCodeAt(i + 1) === 10) i++;
        } else {
          this.sawCR = true;
        }
      }
      start = i + 1;
    }
    if (start < s.length) this.buf += s.slice(start);
  }

  private line(line: string, out: SseEvent[]): void {
    if (line.length === 0) {
      this.dispatch(out);
      return;
    }
    const first = line.charCodeAt(0);
    if (first === 58 /* ':' comment */) return;
    if (first === 123 /* '{' */) {
      // A bare JSON line between events: how Gemini (and some OpenAI-compatible
      // servers) report a mid-stream error. Delivered as its own data event.
      this.dispatch(out);
      out.push({ event: undefined, data: line });
      return;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.eventName = value;
  }

  private dispatch(out: SseEvent[]): void {
    const d = this.data;
    if (d.length > 0) {
      out.push({ event: this.eventName, data: d.length === 1 ? d[0]! : d.join('\n') });
      d.length = 0;
    }
    this.eventName = undefined;
  }
}
