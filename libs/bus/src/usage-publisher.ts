import type { NatsConnection } from '@nats-io/transport-node';
import { SpanKind, SpanStatusCode, context, trace, type Context, type Span } from '@opentelemetry/api';
import { USAGE_SUBJECT_V1, type UsageEventV1, parseUsageEventV1 } from '@switchyard/contracts';
import { injectTraceHeaders, spansExported, type HeaderCarrier } from '@switchyard/telemetry';
import { JetStreamAsyncPublisher } from './jetstream-async-publisher';
import { UsageDiskSpool, type SpooledEvent } from './usage-disk-spool';

export interface UsagePublisherOptions {
  /** Events held in memory while NATS is slow or unreachable. */
  maxSpooled?: number;
  /**
   * A directory for what overflows memory, and for what is still unpublished
   * at shutdown; replayed (then deleted) once NATS acknowledges it, also by
   * the next process. Without one, overflow is dropped and counted.
   */
  spoolDir?: string;
  /** Disk budget of the spool directory. */
  maxDiskBytes?: number;
  /** Wait between retries while NATS is down. */
  retryMs?: number;
  /** Publishes awaiting their JetStream ack at once. */
  maxInFlight?: number;
  onError?: (err: Error, pending: number) => void;
}

interface Pending extends SpooledEvent {
  /** The disk segment this event was replayed from. */
  segment?: string;
  /** The `usage publish` span, ended by the JetStream ack (or when the event leaves memory). */
  span?: Span;
}

const tracer = trace.getTracer('switchyard-bus');

/** Reused carrier for trace headers: no closures allocated per event. */
class RecordCarrier implements HeaderCarrier {
  record: Record<string, string> = {};
  get(k: string): string {
    return this.record[k] ?? '';
  }
  set(k: string, v: string): void {
    this.record[k] = v;
  }
  has(k: string): boolean {
    return k in this.record;
  }
  keys(): string[] {
    return Object.keys(this.record);
  }
}

/**
 * Publishes one usage event per request to JetStream with Nats-Msg-Id = the
 * request id, so a retried publish is deduplicated by the server. Publishing
 * never blocks the client's response: events queue in memory and one loop
 * drains them in windows of concurrent acks, retrying while NATS is down;
 * past the memory bound (and at shutdown) they go to a disk spool that is
 * replayed when NATS is back.
 */
export class UsagePublisher {
  private readonly js: JetStreamAsyncPublisher;
  private readonly spool: Pending[] = [];
  private readonly disk: UsageDiskSpool | undefined;
  /** Events of each replayed segment not yet acknowledged. */
  private readonly replaying = new Map<string, number>();
  private readonly carrier = new RecordCarrier();
  private drainLoop: Promise<void> | undefined;
  private closed = false;
  private dropped = 0;
  private spilled = 0;
  private inFlight = 0;
  private published = 0;
  private readonly maxSpooled: number;
  private readonly retryMs: number;
  private readonly maxInFlight: number;
  private idleWaiters: Array<() => void> = [];

  constructor(
    nc: NatsConnection,
    private readonly opts: UsagePublisherOptions = {},
  ) {
    this.js = new JetStreamAsyncPublisher(nc);
    this.maxSpooled = opts.maxSpooled ?? 100_000;
    this.retryMs = opts.retryMs ?? 500;
    this.maxInFlight = opts.maxInFlight ?? 256;
    if (opts.spoolDir) {
      this.disk = new UsageDiskSpool(opts.spoolDir, opts.maxDiskBytes ?? 1024 ** 3);
      // Left over by an earlier process: replay it.
      if (this.disk.segments().length > 0) this.kick();
    }
  }

  /** Validates (a malformed event is a bug in the producer: it throws) and queues. */
  publish(event: UsageEventV1, traceContext?: Context): void {
    const check = parseUsageEventV1(event);
    if (!check.ok) throw new Error(`usage event ${event.request_id} is invalid: ${check.reason}`);
    const data = Buffer.from(JSON.stringify(event));
    // A PRODUCER span only when spans are exported; the consumers' spans
    // become its children through the traceparent header.
    const span = spansExported() ? this.startPublishSpan(event.request_id, data.length, traceContext ?? context.active()) : undefined;
    this.carrier.record = {};
    injectTraceHeaders(this.carrier, span ? trace.setSpan(traceContext ?? context.active(), span) : traceContext);
    const p: Pending = { id: event.request_id, data, traceHeaders: this.carrier.record, span };
    if (this.spool.length + this.inFlight >= this.maxSpooled) {
      if (this.disk?.append(p)) {
        this.spilled++;
        endPublishSpan(p, 'spooled_to_disk');
      } else {
        this.dropped++;
        endPublishSpan(p, 'dropped');
        this.opts.onError?.(new Error('usage spool full; event dropped'), this.spool.length);
      }
    } else this.spool.push(p);
    this.kick();
  }

  private startPublishSpan(requestId: string, bytes: number, parent: Context): Span {
    return tracer.startSpan(
      'usage publish',
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          'messaging.system': 'nats',
          'messaging.operation': 'publish',
          'messaging.destination.name': USAGE_SUBJECT_V1,
          'messaging.message.id': requestId,
          'messaging.message.body.size': bytes,
        },
      },
      parent,
    );
  }

  get stats() {
    return { pending: this.spool.length + this.inFlight, published: this.published, dropped: this.dropped, spilledToDisk: this.spilled };
  }

  /** Resolves true when everything queued so far (memory and disk) has been acknowledged. */
  async flush(timeoutMs = 10_000): Promise<boolean> {
    if (!this.drainLoop) return this.spool.length === 0;
    return new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(t);
        resolve(this.spool.length === 0);
      });
    });
  }

  /** Flushes for up to `timeoutMs`; whatever is still unacknowledged then goes to the disk spool. */
  async close(timeoutMs = 10_000): Promise<void> {
    await this.flush(timeoutMs);
    this.closed = true;
    this.js.close();
    await this.drainLoop;
    if (this.disk) {
      for (const p of this.spool) if (!p.segment) this.disk.append(p);
      this.disk.seal();
    }
    for (const p of this.spool) endPublishSpan(p, this.disk ? 'spooled_to_disk' : 'dropped');
  }

  private kick(): void {
    if (!this.drainLoop && !this.closed) this.drainLoop = this.drain();
  }

  private send(p: Pending): Promise<unknown> {
    return this.js.publish(USAGE_SUBJECT_V1, p.data, p.id, p.traceHeaders);
  }

  /** Memory empty: load the oldest disk segment, if any. */
  private refillFromDisk(): boolean {
    if (!this.disk) return false;
    if (this.disk.hasOpenSegment) this.disk.seal();
    for (const segment of this.disk.segments()) {
      if (this.replaying.has(segment)) continue;
      const events = this.disk.read(segment);
      if (events.length === 0) {
        this.disk.remove(segment);
        continue;
      }
      this.replaying.set(segment, events.length);
      for (const e of events) this.spool.push({ ...e, segment });
      return true;
    }
    return false;
  }

  private acked(p: Pending): void {
    this.published++;
    endPublishSpan(p);
    if (!p.segment) return;
    const left = (this.replaying.get(p.segment) ?? 1) - 1;
    if (left > 0) this.replaying.set(p.segment, left);
    else {
      this.replaying.delete(p.segment);
      this.disk!.remove(p.segment);
    }
  }

  private async drain(): Promise<void> {
    try {
      while (!this.closed && (this.spool.length > 0 || this.refillFromDisk())) {
        // Publishes go out in windows of concurrent acks: one round trip per
        // window, not per event. Order does not matter for usage; ids dedupe.
        const window = this.spool.splice(0, this.maxInFlight);
        this.inFlight = window.length;
        const results = await Promise.allSettled(window.map((p) => this.send(p)));
        this.inFlight = 0;
        const failed: Pending[] = [];
        let firstError: Error | undefined;
        for (let i = 0; i < results.length; i++) {
          const r = results[i]!;
          if (r.status === 'fulfilled') this.acked(window[i]!);
          else {
            failed.push(window[i]!);
            firstError ??= r.reason as Error;
          }
        }
        if (failed.length > 0) {
          this.spool.unshift(...failed);
          if (this.closed) break;
          this.opts.onError?.(firstError!, this.spool.length);
          await new Promise((r) => setTimeout(r, this.retryMs));
        }
      }
    } finally {
      this.drainLoop = undefined;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}

/** Ends the event's publish span: acknowledged by JetStream, or (with `outcome`) not yet published when it left memory. */
function endPublishSpan(p: Pending, outcome?: 'spooled_to_disk' | 'dropped'): void {
  if (!p.span) return;
  if (outcome) p.span.setAttribute('switchyard.usage.outcome', outcome);
  if (outcome === 'dropped') p.span.setStatus({ code: SpanStatusCode.ERROR, message: 'usage spool full; event dropped' });
  p.span.end();
  p.span = undefined;
}
