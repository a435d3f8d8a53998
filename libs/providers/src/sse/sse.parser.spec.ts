import { describe, expect, it } from 'vitest';
import { SseParser, type SseEvent } from './sse.parser';

function parse(chunks: string[]): SseEvent[] {
  const p = new SseParser();
  const out: SseEvent[] = [];
  for (const c of chunks) p.push(Buffer.from(c), out);
  p.end(out);
  return out;
}

describe('SseParser', () => {
  it('parses events split at any byte', () => {
    const text = 'data: {"a":1}\n\ndata: [DONE]\n\n';
    for (let cut = 1; cut < text.length; cut++) {
      expect(parse([text.slice(0, cut), text.slice(cut)])).toEqual([
        { event: undefined, data: '{"a":1}' },
        { event: undefined, data: '[DONE]' },
      ]);
    }
  });

  it('joins multi-line data and keeps event names', () => {
    expect(parse(['event: message_start\ndata: line1\ndata: line2\n\n'])).toEqual([{ event: 'message_start', data: 'line1\nline2' }]);
  });

  it('accepts CRLF and lone CR line ends, even split between chunks', () => {
    expect(parse(['data: x\r', '\n\r\n', 'data: y\r\r'])).toEqual([
      { event: undefined, data: 'x' },
      { event: undefined, data: 'y' },
    ]);
    expect(parse(['data: x\r', '\ndata: y\n\n', 'data: z\r\n\n'])).toEqual([
      { event: undefined, data: 'x\ny' },
      { event: undefined, data: 'z' },
    ]);
  });

  it('delivers a final event without a trailing blank line', () => {
    expect(parse(['data: last'])).toEqual([{ event: undefined, data: 'last' }]);
  });

  it('ignores comments and keep-alives', () => {
    expect(parse([': ping\n\ndata: x\n\n'])).toEqual([{ event: undefined, data: 'x' }]);
  });

  it('keeps a multi-byte character split across chunks intact', () => {
    const bytes = Buffer.from('data: héllo ✓\n\n');
    const p = new SseParser();
    const out: SseEvent[] = [];
    for (const b of bytes) p.push(Uint8Array.of(b), out);
    p.end(out);
    expect(out).toEqual([{ event: undefined, data: 'héllo ✓' }]);
  });

  it('delivers a bare JSON line between events (a mid-stream error without data:) as its own event', () => {
    expect(parse(['data: {"a":1}\n\n{"error":{"code":503}}\n'])).toEqual([
      { event: undefined, data: '{"a":1}' },
      { event: undefined, data: '{"error":{"code":503}}' },
    ]);
  });

  it('drops a byte-order mark at the start of the stream, even split across chunks, and keeps one later on', () => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    const p = new SseParser();
    const out: SseEvent[] = [];
    p.push(bom.subarray(0, 1), out);
    p.push(Buffer.concat([bom.subarray(1), Buffer.from('data: a\n\ndata: \ufeffb\n\n')]), out);
    p.end(out);
    expect(out).toEqual([
      { event: undefined, data: 'a' },
      { event: undefined, data: '\ufeffb' },
    ]);
  });

  it('joins multi-line data and starts every event afresh', () => {
    expect(parse(['event: x\ndata: 1\ndata: 2\n\ndata: 3\n\n'])).toEqual([
      { event: 'x', data: '1\n2' },
      { event: undefined, data: '3' },
    ]);
  });
});
