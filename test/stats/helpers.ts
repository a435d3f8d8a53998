import { randomUUID } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats, ensureUsageTopology, type NatsConnection } from '@switchyard/bus';
import { STATS_CONSUMER, USAGE_DLQ_STREAM, USAGE_STREAM, type UsageEventV1 } from '@switchyard/contracts';

export const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

/** A valid usage.v1 event; every field can be overridden. */
export function usageEvent(overrides: Partial<UsageEventV1> = {}): UsageEventV1 {
  return {
    schema: 'usage.v1',
    request_id: `req_${randomUUID().replace(/-/g, '')}`,
    occurred_at: new Date().toISOString(),
    trace_id: '0af7651916cd43dd8448eb211c80319c',
    key_id: 'key_ci',
    account_id: 'acme',
    model_requested: 'gpt-4o-mini',
    model_served: 'gpt-4o-mini-2024-07-18',
    channel_id: 'fast-openai',
    provider: 'openai',
    route_mode: 'smart',
    stream: true,
    status: 'ok',
    http_status: 200,
    error_class: null,
    attempts: [
      {
        channel_id: 'fast-openai',
        provider: 'openai',
        status: 200,
        error_class: null,
        started_after_ms: 0.4,
        latency_ms: 812.5,
        ttft_ms: 120.25,
      },
    ],
    usage: { input_tokens: 1200, output_tokens: 345, cached_input_tokens: 200, reasoning_tokens: 0 },
    usage_estimated: false,
    ttft_ms: 120.25,
    latency_ms: 812.5,
    tokens_per_second: 497.1,
    price: { input_nano_per_mtok: 150_000_000, output_nano_per_mtok: 600_000_000, cached_input_nano_per_mtok: 75_000_000 },
    // 1000 × 0.15 + 200 × 0.075 + 345 × 0.60 USD per 1M tokens, in nano-USD.
    cost_nano: 372_000,
    ...overrides,
  };
}

/** Deletes the usage and dead-letter streams and makes the topology again: an empty bus for this file. */
export async function resetUsageBus(): Promise<NatsConnection> {
  const nc = await connectNats(NATS_URL, 'stats-test');
  const jsm = await jetstreamManager(nc);
  for (const stream of [USAGE_STREAM, USAGE_DLQ_STREAM]) {
    await jsm.streams.delete(stream).catch((e: Error) => {
      if (!/stream not found/i.test(e.message)) throw e;
    });
  }
  await ensureUsageTopology(jsm);
  return nc;
}

export type AckKind = 'ack' | 'nak' | 'term' | 'progress' | 'other';
export interface AckSeen {
  streamSeq: number;
  deliveries: number;
  kind: AckKind;
}

/**
 * Records every acknowledgement the stats consumer sends, per stream
 * sequence, by listening on the JetStream ack subjects
 * (`$JS.ACK.<stream>.<consumer>.<deliveries>.<stream seq>.…`). Tells what
 * happened to *our* messages even when other suites share the bus.
 */
export function watchStatsAcks(nc: NatsConnection): { seen: AckSeen[]; kinds(seq: number): AckKind[]; stop(): void } {
  const seen: AckSeen[] = [];
  const sub = nc.subscribe(`$JS.ACK.${USAGE_STREAM}.${STATS_CONSUMER}.>`);
  void (async () => {
    for await (const m of sub) {
      const t = m.subject.split('.');
      const i = t.indexOf(STATS_CONSUMER, 3);
      const body = m.string();
      const kind: AckKind = body.startsWith('+ACK')
        ? 'ack'
        : body.startsWith('-NAK')
          ? 'nak'
          : body.startsWith('+TERM')
            ? 'term'
            : body.startsWith('+WPI')
              ? 'progress'
              : 'other';
      seen.push({ deliveries: Number(t[i + 1]), streamSeq: Number(t[i + 2]), kind });
    }
  })();
  return {
    seen,
    kinds: (seq) => seen.filter((a) => a.streamSeq === seq).map((a) => a.kind),
    stop: () => sub.unsubscribe(),
  };
}

/** Stream sequence of the usage message carrying `requestId` (scans the stream; tests only). */
export async function streamSeqOf(nc: NatsConnection, requestId: string): Promise<number | undefined> {
  const jsm = await jetstreamManager(nc);
  const { first_seq, last_seq } = (await jsm.streams.info(USAGE_STREAM)).state;
  for (let seq = last_seq; seq >= first_seq; seq--) {
    const m = await jsm.streams.getMessage(USAGE_STREAM, { seq }).catch(() => null);
    if (m?.string().includes(requestId)) return seq;
  }
  return undefined;
}

/** Polls until `check` returns a truthy value (returned) or throws with `what` after the timeout. */
export async function waitFor<T>(what: string, check: () => Promise<T> | T, timeoutMs = 15_000, everyMs = 100): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
