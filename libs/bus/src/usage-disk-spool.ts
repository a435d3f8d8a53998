import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** One spooled event: the request id, the serialised event and its trace headers. */
export interface SpooledEvent {
  id: string;
  data: Uint8Array;
  traceHeaders: Record<string, string>;
}

const OPEN_SUFFIX = '.jsonl.open';
const DONE_SUFFIX = '.jsonl';

/**
 * Usage events that could not be published yet, on local disk: what
 * overflows memory while NATS is down, and what is still pending at shutdown.
 * Append-only JSONL segments; a segment is deleted only after every event in
 * it was acknowledged by JetStream, and replaying one twice is harmless
 * (Nats-Msg-Id and the consumers deduplicate by request id). A segment left
 * open by a crash is replayed too; a torn last line is skipped.
 */
export class UsageDiskSpool {
  private fd: number | undefined;
  private openPath: string | undefined;
  private openCount = 0;
  private seq = 0;
  private bytes = 0;
  /**
   * Sealed segments, oldest first: the directory is listed once, at start;
   * after that this process is the only writer, so the publisher's drain loop
   * (which asks after every window) costs no file-system call.
   */
  private readonly sealed: string[];

  constructor(
    private readonly dir: string,
    private readonly maxBytes: number,
    private readonly segmentEvents = 10_000,
  ) {
    mkdirSync(dir, { recursive: true });
    for (const f of readdirSync(dir)) {
      if (f.endsWith(OPEN_SUFFIX)) renameSync(join(dir, f), join(dir, f.slice(0, -OPEN_SUFFIX.length) + DONE_SUFFIX));
    }
    this.sealed = readdirSync(dir)
      .filter((f) => f.endsWith(DONE_SUFFIX))
      .sort()
      .map((f) => join(dir, f));
    for (const f of this.sealed) this.bytes += statSync(f).size;
  }

  /** Appends one event; false when the disk budget is spent (the caller counts a drop). */
  append(e: SpooledEvent): boolean {
    const line = JSON.stringify({ id: e.id, h: e.traceHeaders, e: Buffer.from(e.data).toString('utf8') }) + '\n';
    if (this.bytes + line.length > this.maxBytes) return false;
    if (this.fd === undefined) {
      this.openPath = join(this.dir, `usage-${Date.now()}-${process.pid}-${this.seq++}${OPEN_SUFFIX}`);
      this.fd = openSync(this.openPath, 'a');
    }
    writeSync(this.fd, line);
    this.bytes += line.length;
    if (++this.openCount >= this.segmentEvents) this.seal();
    return true;
  }

  /** Closes the segment being written so it can be replayed. */
  seal(): void {
    if (this.fd === undefined || !this.openPath) return;
    closeSync(this.fd);
    const done = this.openPath.slice(0, -OPEN_SUFFIX.length) + DONE_SUFFIX;
    renameSync(this.openPath, done);
    this.sealed.push(done);
    this.fd = undefined;
    this.openPath = undefined;
    this.openCount = 0;
  }

  get hasOpenSegment(): boolean {
    return this.fd !== undefined;
  }

  /** Sealed segments, oldest first. */
  segments(): string[] {
    return [...this.sealed];
  }

  /** The segment's events ([] when it is gone). */
  read(segment: string): SpooledEvent[] {
    const out: SpooledEvent[] = [];
    let text: string;
    try {
      text = readFileSync(segment, 'utf8');
    } catch {
      return out;
    }
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        const r = JSON.parse(line) as { id: string; h: Record<string, string>; e: string };
        out.push({ id: r.id, traceHeaders: r.h ?? {}, data: Buffer.from(r.e, 'utf8') });
      } catch {
        // A line torn by a crash mid-write: the rest of the segment still counts.
      }
    }
    return out;
  }

  remove(segment: string): void {
    const i = this.sealed.indexOf(segment);
    if (i >= 0) this.sealed.splice(i, 1);
    try {
      this.bytes -= statSync(segment).size;
      unlinkSync(segment);
    } catch {
      /* already gone */
    }
  }
}
