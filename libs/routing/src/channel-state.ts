import type { ErrorClass, UsageAttempt } from '@switchyard/contracts';
import { countsAgainstChannel } from './error-classification';
import { SlidingWindowCounter } from './sliding-window';

/** Tuning of the live per-(channel, model) state. */
export interface ChannelStateConfig {
  /** EMA smoothing factor in (0, 1]: weight of the newest sample. */
  alpha: number;
  /** Length of the success-rate window. */
  windowMs: number;
  /** Bucket width of the success-rate window. */
  bucketMs: number;
  /** How many recent TTFT (and latency) samples the p95 estimates are taken over. */
  ttftSamples: number;
}

export const DEFAULT_CHANNEL_STATE_CONFIG: Readonly<ChannelStateConfig> = Object.freeze({
  alpha: 0.2,
  windowMs: 60_000,
  bucketMs: 5_000,
  ttftSamples: 64,
});

/** One upstream attempt as the state sees it (built from a usage event's attempt). */
export interface AttemptOutcome {
  /** Upstream HTTP status; 0 when no response arrived. */
  status: number;
  /** null for a success. */
  error_class: ErrorClass | null;
  ttft_ms: number | null;
  latency_ms: number;
  /** Output tokens the attempt produced (successful attempts); enables tokens/s. */
  output_tokens?: number;
  /** When the attempt ended (epoch ms); defaults to now(). Replays from ClickHouse pass the event time. */
  at_ms?: number;
}

/** A serialisable snapshot of one channel's live state. `null` means "no data yet". */
export interface ChannelStats {
  requests: number;
  successes: number;
  failures: number;
  /** Client-caused failures (permanent, client_abort): counted, never held against the channel. */
  neutral: number;
  consecutive_failures: number;
  ema_ttft_ms: number | null;
  ema_tokens_per_second: number | null;
  ema_latency_ms: number | null;
  /** p95 and mean over the last `ttftSamples` TTFTs / successful latencies (operator view, hedge deadline). */
  p95_ttft_ms: number | null;
  recent_mean_ttft_ms: number | null;
  p95_latency_ms: number | null;
  recent_mean_latency_ms: number | null;
  window_successes: number;
  window_failures: number;
  /** Successes / (successes + failures) inside the window; null when the window is empty. */
  window_success_rate: number | null;
  last_success_at_ms: number | null;
  last_failure_at_ms: number | null;
  last_error_class: ErrorClass | null;
}

/** Turns a usage event's attempt into an outcome; `outputTokens` only for the attempt that answered. */
export function outcomeFromAttempt(attempt: UsageAttempt, endedAtMs: number, outputTokens?: number): AttemptOutcome {
  return {
    status: attempt.status,
    error_class: attempt.error_class,
    ttft_ms: attempt.ttft_ms,
    latency_ms: attempt.latency_ms,
    output_tokens: outputTokens,
    at_ms: endedAtMs,
  };
}

const finiteNonNeg = (v: number | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/**
 * Live state of one (channel, model): EMAs of TTFT, tokens/s and latency,
 * a windowed success rate, a p95 TTFT estimate and counters.
 *
 * p95 TTFT is the exact 95th percentile of the last `ttftSamples` TTFTs (a
 * fixed ring). A reservoir sample would be uniform over all history and a
 * t-digest over a long horizon; both react slowly when a channel changes.
 * The recent window follows a changing world within `ttftSamples` requests,
 * costs 64 numbers and one small sort when read, and is exact over what it
 * holds.
 */
export class ChannelState {
  private readonly cfg: ChannelStateConfig;
  private readonly window: SlidingWindowCounter;
  private readonly ttftSamples: RecentSamples;
  private readonly latencySamples: RecentSamples;
  private requests = 0;
  private successes = 0;
  private failures = 0;
  private neutral = 0;
  private consecutiveFailures = 0;
  private emaTtft: number | null = null;
  private emaTps: number | null = null;
  private emaLatency: number | null = null;
  private lastSuccessAt: number | null = null;
  private lastFailureAt: number | null = null;
  private lastErrorClass: ErrorClass | null = null;
  /** Sample statistics, recomputed only after new samples: snapshots are read on every request. */
  private sampleStats: { p95Ttft: number | null; meanTtft: number | null; p95Latency: number | null; meanLatency: number | null } | null = null;

  constructor(
    private readonly now: () => number,
    config: Partial<ChannelStateConfig> = {},
  ) {
    this.cfg = { ...DEFAULT_CHANNEL_STATE_CONFIG, ...config };
    if (!(this.cfg.alpha > 0 && this.cfg.alpha <= 1)) throw new RangeError(`alpha must be in (0, 1], got ${this.cfg.alpha}`);
    if (!(Number.isInteger(this.cfg.ttftSamples) && this.cfg.ttftSamples > 0)) throw new RangeError('ttftSamples must be a positive integer');
    this.window = new SlidingWindowCounter(this.cfg.windowMs, this.cfg.bucketMs);
    this.ttftSamples = new RecentSamples(this.cfg.ttftSamples);
    this.latencySamples = new RecentSamples(this.cfg.ttftSamples);
  }

  observe(outcome: AttemptOutcome): void {
    const nowMs = this.now();
    const at = finiteNonNeg(outcome.at_ms) ? outcome.at_ms : nowMs;
    this.requests += 1;
    this.sampleStats = null;
    const ok = outcome.error_class === null && outcome.status >= 200 && outcome.status < 400;
    if (!ok && outcome.error_class !== null && !countsAgainstChannel(outcome.error_class)) {
      // The client's fault (bad request, hung up): says nothing about the channel's health.
      this.neutral += 1;
      return;
    }
    this.window.record(ok, at, nowMs);
    if (ok) {
      this.successes += 1;
      this.consecutiveFailures = 0;
      this.lastSuccessAt = at;
      if (finiteNonNeg(outcome.ttft_ms)) {
        this.emaTtft = this.ema(this.emaTtft, outcome.ttft_ms);
        this.ttftSamples.push(outcome.ttft_ms);
      }
      if (finiteNonNeg(outcome.latency_ms)) {
        this.emaLatency = this.ema(this.emaLatency, outcome.latency_ms);
        this.latencySamples.push(outcome.latency_ms);
      }
      const gen = outcome.latency_ms - (finiteNonNeg(outcome.ttft_ms) ? outcome.ttft_ms : 0);
      if (finiteNonNeg(outcome.output_tokens) && outcome.output_tokens > 0 && gen > 0 && Number.isFinite(gen)) {
        this.emaTps = this.ema(this.emaTps, (outcome.output_tokens * 1000) / gen);
      }
    } else {
      this.failures += 1;
      this.consecutiveFailures += 1;
      this.lastFailureAt = at;
      this.lastErrorClass = outcome.error_class ?? 'unknown';
      // A timeout is a latency signal too: it took at least this long to get nothing.
      if (outcome.error_class === 'timeout' && finiteNonNeg(outcome.latency_ms) && outcome.latency_ms > 0) {
        this.emaTtft = this.ema(this.emaTtft, Math.max(outcome.latency_ms, this.emaTtft ?? 0));
        this.ttftSamples.push(outcome.latency_ms);
      }
    }
  }

  snapshot(): ChannelStats {
    const w = this.window.counts(this.now());
    const n = w.successes + w.failures;
    const q = (this.sampleStats ??= {
      p95Ttft: this.ttftSamples.quantile(0.95),
      meanTtft: this.ttftSamples.mean(),
      p95Latency: this.latencySamples.quantile(0.95),
      meanLatency: this.latencySamples.mean(),
    });
    return {
      requests: this.requests,
      successes: this.successes,
      failures: this.failures,
      neutral: this.neutral,
      consecutive_failures: this.consecutiveFailures,
      ema_ttft_ms: this.emaTtft,
      ema_tokens_per_second: this.emaTps,
      ema_latency_ms: this.emaLatency,
      p95_ttft_ms: q.p95Ttft,
      recent_mean_ttft_ms: q.meanTtft,
      p95_latency_ms: q.p95Latency,
      recent_mean_latency_ms: q.meanLatency,
      window_successes: w.successes,
      window_failures: w.failures,
      window_success_rate: n === 0 ? null : w.successes / n,
      last_success_at_ms: this.lastSuccessAt,
      last_failure_at_ms: this.lastFailureAt,
      last_error_class: this.lastErrorClass,
    };
  }

  /**
   * The channel's breaker closed again after successful probes: the failures
   * of its outage no longer describe it, so they leave the success window now
   * rather than when they age out (a minute of a recovered channel scored as
   * if still down). Successes stay; the lifetime counters are untouched.
   */
  recovered(): void {
    this.window.clearFailures();
    this.consecutiveFailures = 0;
  }

  /** The 95th percentile (nearest-rank) of the recent TTFT samples; null without samples. */
  p95Ttft(): number | null {
    return this.ttftSamples.quantile(0.95);
  }

  private ema(prev: number | null, sample: number): number {
    return prev === null ? sample : prev + this.cfg.alpha * (sample - prev);
  }

}

/** The last `size` samples in a ring; exact quantiles and mean over them. */
export class RecentSamples {
  private readonly ring: number[] = [];
  private next = 0;

  constructor(private readonly size: number) {}

  push(v: number): void {
    if (this.ring.length < this.size) this.ring.push(v);
    else this.ring[this.next] = v;
    this.next = (this.next + 1) % this.size;
  }

  /** Nearest-rank quantile q in (0, 1]; null without samples. */
  quantile(q: number): number | null {
    if (this.ring.length === 0) return null;
    const sorted = [...this.ring].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
  }

  mean(): number | null {
    return this.ring.length === 0 ? null : this.ring.reduce((a, b) => a + b, 0) / this.ring.length;
  }
}

/** Key of one (channel, model) pair in maps. */
export function channelModelKey(channelId: string, model: string): string {
  return `${channelId}\u0000${model}`;
}

/** All live states, created on first use. */
export class ChannelStateRegistry {
  private readonly states = new Map<string, ChannelState>();

  constructor(
    private readonly now: () => number,
    private readonly config: Partial<ChannelStateConfig> = {},
  ) {}

  get(channelId: string, model: string): ChannelState {
    const k = channelModelKey(channelId, model);
    let s = this.states.get(k);
    if (!s) {
      s = new ChannelState(this.now, this.config);
      this.states.set(k, s);
    }
    return s;
  }

  /** The snapshot, or null when this pair has never been observed. */
  peek(channelId: string, model: string): ChannelStats | null {
    return this.states.get(channelModelKey(channelId, model))?.snapshot() ?? null;
  }

  observe(channelId: string, model: string, outcome: AttemptOutcome): void {
    this.get(channelId, model).observe(outcome);
  }
}
