import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { LabelLimiter, METRIC_PREFIX } from './registry';

/**
 * The gateway's metric families, declared once so every service names,
 * labels and buckets them the same way. Each factory registers its metrics
 * in the registry it is given (call it once per registry).
 *
 * Label cardinality stays bounded by construction: labels are service-level
 * names (route templates, status classes, channel/provider/model ids from the
 * catalog, error classes), never request ids, key ids or account ids; labels
 * fed from data go through a LabelLimiter.
 */

const n = (name: string) => `${METRIC_PREFIX}${name}`;

/** Seconds: from a fast health check to an LLM call minutes long. */
export const LATENCY_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Seconds to the first token: most of the action is between 100 ms and 5 s. */
export const TTFT_BUCKETS_S = [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20, 60];
/** Seconds of a database write. */
export const WRITE_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Rows per batch, up to the largest configurable fetch. */
export const BATCH_SIZE_BUCKETS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

/** `2xx`, `4xx`, … — one series per class, not per status. */
export function statusClass(status: number): string {
  if (!Number.isInteger(status) || status < 100 || status > 599) return 'other';
  return `${Math.floor(status / 100)}xx`;
}

// ---------------------------------------------------------------- HTTP server

export interface HttpMetrics {
  requests: Counter<'method' | 'route' | 'status_class'>;
  duration: Histogram<'method' | 'route' | 'status_class'>;
  inFlight: Gauge<'method'>;
  /**
   * Call when a request starts; call the returned function once with the
   * response status when it ends. `route` must be the route template
   * (`/v1/chat/completions`, `/v1/stats/requests/:requestId`), never the raw
   * URL with ids in it.
   */
  start(method: string, route: string): (status: number) => void;
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export function httpMetrics(registry: Registry): HttpMetrics {
  const labelNames = ['method', 'route', 'status_class'] as const;
  const requests = new Counter({
    name: n('http_requests_total'),
    help: 'HTTP requests served, by method, route template and status class.',
    labelNames,
    registers: [registry],
  });
  const duration = new Histogram({
    name: n('http_request_duration_seconds'),
    help: 'HTTP request duration from the first byte in to the last byte out.',
    labelNames,
    buckets: LATENCY_BUCKETS_S,
    registers: [registry],
  });
  const inFlight = new Gauge({
    name: n('http_requests_in_flight'),
    help: 'HTTP requests being served right now.',
    labelNames: ['method'] as const,
    registers: [registry],
  });
  const routes = new LabelLimiter(100);
  return {
    requests,
    duration,
    inFlight,
    start(method, route) {
      const m = METHODS.has(method) ? method : 'OTHER';
      const r = routes.value(route || 'unmatched');
      const t0 = process.hrtime.bigint();
      inFlight.inc({ method: m });
      let done = false;
      return (status) => {
        if (done) return;
        done = true;
        inFlight.dec({ method: m });
        const labels = { method: m, route: r, status_class: statusClass(status) };
        requests.inc(labels);
        duration.observe(labels, Number(process.hrtime.bigint() - t0) / 1e9);
      };
    },
  };
}

// ---------------------------------------------------------- upstream attempts

export interface UpstreamAttemptSample {
  provider: string;
  channel: string;
  model: string;
  /** null or undefined when the attempt succeeded. */
  errorClass?: string | null;
  /** Milliseconds to the first token; null when none arrived. */
  ttftMs?: number | null;
  tokens?: { input?: number; output?: number; cached_input?: number; reasoning?: number };
}

export interface UpstreamMetrics {
  requests: Counter<'provider' | 'channel' | 'model' | 'outcome'>;
  errors: Counter<'provider' | 'channel' | 'error_class'>;
  tokens: Counter<'provider' | 'channel' | 'model' | 'kind'>;
  ttft: Histogram<'provider' | 'channel' | 'model'>;
  /** Records one upstream attempt: request, error (if any), tokens and TTFT. */
  observe(a: UpstreamAttemptSample): void;
}

export function upstreamMetrics(registry: Registry, maxSeries = 500): UpstreamMetrics {
  const requests = new Counter({
    name: n('upstream_requests_total'),
    help: 'Upstream attempts, by provider, channel, model and outcome (ok|error).',
    labelNames: ['provider', 'channel', 'model', 'outcome'] as const,
    registers: [registry],
  });
  const errors = new Counter({
    name: n('upstream_errors_total'),
    help: 'Failed upstream attempts, by provider, channel and error class.',
    labelNames: ['provider', 'channel', 'error_class'] as const,
    registers: [registry],
  });
  const tokens = new Counter({
    name: n('upstream_tokens_total'),
    help: 'Tokens reported by upstreams, by kind (input|output|cached_input|reasoning).',
    labelNames: ['provider', 'channel', 'model', 'kind'] as const,
    registers: [registry],
  });
  const ttft = new Histogram({
    name: n('upstream_ttft_seconds'),
    help: 'Time to first token of successful upstream attempts.',
    labelNames: ['provider', 'channel', 'model'] as const,
    buckets: TTFT_BUCKETS_S,
    registers: [registry],
  });
  const providers = new LabelLimiter(50);
  const channels = new LabelLimiter(maxSeries);
  const models = new LabelLimiter(maxSeries);
  const classes = new LabelLimiter(30);
  return {
    requests,
    errors,
    tokens,
    ttft,
    observe(a) {
      const provider = providers.value(a.provider);
      const channel = channels.value(a.channel);
      const model = models.value(a.model);
      const failed = a.errorClass !== null && a.errorClass !== undefined;
      requests.inc({ provider, channel, model, outcome: failed ? 'error' : 'ok' });
      if (failed) errors.inc({ provider, channel, error_class: classes.value(a.errorClass) });
      if (!failed && typeof a.ttftMs === 'number' && Number.isFinite(a.ttftMs)) {
        ttft.observe({ provider, channel, model }, a.ttftMs / 1000);
      }
      if (a.tokens) {
        for (const kind of ['input', 'output', 'cached_input', 'reasoning'] as const) {
          const v = a.tokens[kind];
          if (v && v > 0) tokens.inc({ provider, channel, model, kind }, v);
        }
      }
    },
  };
}

// ------------------------------------------------------------------- routing

/** Gauge values of `switchyard_breaker_state`. */
export const BREAKER_STATE = { closed: 0, half_open: 1, open: 2 } as const;
export type BreakerStateName = keyof typeof BREAKER_STATE;

export interface RoutingMetrics {
  breakerState: Gauge<'channel' | 'model'>;
  raceWinners: Counter<'channel' | 'model'>;
  hedgeAttempts: Counter<'channel' | 'model'>;
  /** Integer nano-USD spent on attempts that lost a race or hedge. */
  hedgeWasteNano: Counter<'channel' | 'model'>;
  /** Early probes of open breakers, by how they ended: answered / failed / none (aborted: client gone). */
  earlyProbes: Counter<'channel' | 'model' | 'outcome'>;
  setBreaker(channel: string, model: string, state: BreakerStateName): void;
  raceWon(channel: string, model: string): void;
  /** A losing attempt of a race or hedge and what it cost (nano-USD, integer). */
  hedgeLost(channel: string, model: string, costNano: number): void;
  earlyProbe(channel: string, model: string, outcome: 'answered' | 'failed' | 'none'): void;
}

export function routingMetrics(registry: Registry, maxSeries = 500): RoutingMetrics {
  const labelNames = ['channel', 'model'] as const;
  const breakerState = new Gauge({
    name: n('breaker_state'),
    help: 'Circuit breaker per channel and model: 0 closed, 1 half-open, 2 open.',
    labelNames,
    registers: [registry],
  });
  const raceWinners = new Counter({
    name: n('race_winners_total'),
    help: 'Races and hedges won, by the winning channel and model.',
    labelNames,
    registers: [registry],
  });
  const hedgeAttempts = new Counter({
    name: n('hedge_lost_attempts_total'),
    help: 'Attempts that lost a race or hedge and were aborted.',
    labelNames,
    registers: [registry],
  });
  const hedgeWasteNano = new Counter({
    name: n('hedge_waste_nano_usd_total'),
    help: 'Cost of attempts that lost a race or hedge, in nano-USD (not billed to the client).',
    labelNames,
    registers: [registry],
  });
  const earlyProbes = new Counter({
    name: n('breaker_early_probes_total'),
    help: 'Early probes of open circuit breakers (one request also sent to the open channel), by outcome: answered (the breaker half-opens), failed, none (aborted).',
    labelNames: ['channel', 'model', 'outcome'] as const,
    registers: [registry],
  });
  const channels = new LabelLimiter(maxSeries);
  const models = new LabelLimiter(maxSeries);
  const l = (channel: string, model: string) => ({ channel: channels.value(channel), model: models.value(model) });
  return {
    breakerState,
    raceWinners,
    hedgeAttempts,
    hedgeWasteNano,
    earlyProbes,
    earlyProbe: (channel, model, outcome) => earlyProbes.inc({ ...l(channel, model), outcome }),
    setBreaker: (channel, model, state) => breakerState.set(l(channel, model), BREAKER_STATE[state]),
    raceWon: (channel, model) => raceWinners.inc(l(channel, model)),
    hedgeLost(channel, model, costNano) {
      const labels = l(channel, model);
      hedgeAttempts.inc(labels);
      if (Number.isSafeInteger(costNano) && costNano > 0) hedgeWasteNano.inc(labels, costNano);
    },
  };
}

/** The router's plan publishing. */
export interface PlanMetrics {
  version: Gauge;
  publishes: Counter;
  refreshErrors: Counter;
  models: Gauge;
}

export function planMetrics(registry: Registry): PlanMetrics {
  return {
    version: new Gauge({
      name: n('routing_plan_version'),
      help: 'Version of the routing plan in force (ms since the epoch when it was built).',
      registers: [registry],
    }),
    publishes: new Counter({
      name: n('routing_plan_publishes_total'),
      help: 'Routing plans written to the plan bucket because the routing changed.',
      registers: [registry],
    }),
    refreshErrors: new Counter({
      name: n('catalog_refresh_errors_total'),
      help: 'Failed channel catalog refreshes (the last plan stays in force).',
      registers: [registry],
    }),
    models: new Gauge({
      name: n('routing_plan_models'),
      help: 'Public models in the routing plan in force.',
      registers: [registry],
    }),
  };
}

// ------------------------------------------------------------------ key cache

export interface KeyCacheMetrics {
  lookups: Counter<'result'>;
  hit(): void;
  miss(): void;
}

export function keyCacheMetrics(registry: Registry): KeyCacheMetrics {
  const lookups = new Counter({
    name: n('key_cache_lookups_total'),
    help: 'API key cache lookups by result (hit|miss).',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  return { lookups, hit: () => lookups.inc({ result: 'hit' }), miss: () => lookups.inc({ result: 'miss' }) };
}

// --------------------------------------------------------------- spend leases

export interface SpendMetrics {
  refusals: Counter<'reason'>;
  leaseRequests: Counter<'result'>;
}

/** Ingress: requests refused for money (402/503) and lease requests to billing by result. */
export function spendMetrics(registry: Registry): SpendMetrics {
  return {
    refusals: new Counter({
      name: n('spend_refusals_total'),
      help: 'Requests refused before any upstream by reason (insufficient_balance|budget_exceeded|unavailable).',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    leaseRequests: new Counter({
      name: n('spend_lease_requests_total'),
      help: 'Spend lease requests to billing by result (added|exhausted|expired|unavailable|released).',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
  };
}

// ------------------------------------------------------------ JetStream lag

/** The fields of a JetStream consumer info that tell how far behind it is. */
export interface ConsumerLagSample {
  /** Messages in the stream not yet delivered to the consumer. */
  num_pending: number;
  /** Delivered but not acknowledged yet. */
  num_ack_pending: number;
  num_redelivered: number;
}

export interface ConsumerLagMetrics {
  pending: Gauge<'stream' | 'consumer'>;
  ackPending: Gauge<'stream' | 'consumer'>;
  redelivered: Gauge<'stream' | 'consumer'>;
  pollErrors: Counter<'stream' | 'consumer'>;
  set(stream: string, consumer: string, s: ConsumerLagSample): void;
}

export function consumerLagMetrics(registry: Registry): ConsumerLagMetrics {
  const labelNames = ['stream', 'consumer'] as const;
  const pending = new Gauge({
    name: n('jetstream_consumer_pending_messages'),
    help: 'Messages in the stream not yet delivered to the durable consumer (its lag).',
    labelNames,
    registers: [registry],
  });
  const ackPending = new Gauge({
    name: n('jetstream_consumer_ack_pending_messages'),
    help: 'Messages delivered to the consumer and not acknowledged yet.',
    labelNames,
    registers: [registry],
  });
  const redelivered = new Gauge({
    name: n('jetstream_consumer_redelivered_messages'),
    help: 'Messages the consumer is being redelivered.',
    labelNames,
    registers: [registry],
  });
  const pollErrors = new Counter({
    name: n('jetstream_consumer_info_errors_total'),
    help: 'Failed reads of the consumer info (the lag gauges keep their last value).',
    labelNames,
    registers: [registry],
  });
  return {
    pending,
    ackPending,
    redelivered,
    pollErrors,
    set(stream, consumer, s) {
      pending.set({ stream, consumer }, s.num_pending);
      ackPending.set({ stream, consumer }, s.num_ack_pending);
      redelivered.set({ stream, consumer }, s.num_redelivered);
    },
  };
}

export interface LagPoller {
  /** Reads once now (also what the timer does). */
  poll(): Promise<void>;
  stop(): void;
}

/**
 * Reads the consumer info every `intervalMs` (e.g. `() => jsm.consumers.info(stream, durable)`)
 * and sets the lag gauges. A failed read counts in `pollErrors` and keeps the
 * last values. The timer does not keep the process alive.
 */
export function pollConsumerLag(
  metrics: ConsumerLagMetrics,
  stream: string,
  consumer: string,
  read: () => Promise<ConsumerLagSample>,
  intervalMs = 5_000,
): LagPoller {
  let inFlight: Promise<void> | undefined;
  const poll = () =>
    (inFlight ??= read()
      .then((s) => metrics.set(stream, consumer, s))
      .catch(() => void metrics.pollErrors.inc({ stream, consumer }))
      .finally(() => (inFlight = undefined)));
  const timer = setInterval(() => void poll(), intervalMs);
  timer.unref();
  return { poll, stop: () => clearInterval(timer) };
}

// -------------------------------------------------------- batched ingestion

export interface IngestMetrics {
  batchSize: Histogram<'sink'>;
  insertDuration: Histogram<'sink' | 'outcome'>;
  rowsInserted: Counter<'sink'>;
  duplicatesDropped: Counter<'sink'>;
  deadLetters: Counter<'sink'>;
  insertFailures: Counter<'sink'>;
}

/** Batches written to a store (`sink`: clickhouse, postgres). */
export function ingestMetrics(registry: Registry): IngestMetrics {
  const sink = ['sink'] as const;
  return {
    batchSize: new Histogram({
      name: n('ingest_batch_size'),
      help: 'Events per batch handed to the writer.',
      labelNames: sink,
      buckets: BATCH_SIZE_BUCKETS,
      registers: [registry],
    }),
    insertDuration: new Histogram({
      name: n('ingest_insert_duration_seconds'),
      help: 'Time to write one batch (duplicate check plus insert), by outcome (ok|error).',
      labelNames: ['sink', 'outcome'] as const,
      buckets: WRITE_BUCKETS_S,
      registers: [registry],
    }),
    rowsInserted: new Counter({
      name: n('ingest_rows_inserted_total'),
      help: 'Rows written.',
      labelNames: sink,
      registers: [registry],
    }),
    duplicatesDropped: new Counter({
      name: n('ingest_duplicates_dropped_total'),
      help: 'Events not written again because their request id was already stored or repeated in the batch.',
      labelNames: sink,
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: n('ingest_dead_letters_total'),
      help: 'Invalid events sent to the dead-letter stream.',
      labelNames: sink,
      registers: [registry],
    }),
    insertFailures: new Counter({
      name: n('ingest_insert_failures_total'),
      help: 'Batches whose write failed (left for redelivery).',
      labelNames: sink,
      registers: [registry],
    }),
  };
}

// ------------------------------------------------------------------- ledger

export interface LedgerMetrics {
  settled: Counter<'outcome'>;
  settleDuration: Histogram;
  /** `outcome`: settled (new entry), duplicate (already settled), rejected (sent to the dead-letter stream). */
  observe(outcome: 'settled' | 'duplicate' | 'rejected', seconds?: number): void;
}

/** Settle rate is `rate(switchyard_ledger_settlements_total{outcome="settled"}[1m])`. */
export function ledgerMetrics(registry: Registry): LedgerMetrics {
  const settled = new Counter({
    name: n('ledger_settlements_total'),
    help: 'Usage events settled into the ledger, by outcome (settled|duplicate|rejected).',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const settleDuration = new Histogram({
    name: n('ledger_settle_duration_seconds'),
    help: 'Time to settle one usage event (ledger entry and balance update in one transaction).',
    buckets: WRITE_BUCKETS_S,
    registers: [registry],
  });
  return {
    settled,
    settleDuration,
    observe(outcome, seconds) {
      settled.inc({ outcome });
      if (seconds !== undefined && Number.isFinite(seconds) && seconds >= 0) settleDuration.observe(seconds);
    },
  };
}
