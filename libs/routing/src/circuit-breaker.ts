import { SlidingWindowCounter } from './sliding-window';

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface CircuitBreakerConfig {
  /** Consecutive failures that open a closed breaker. */
  failureThreshold: number;
  /** Windowed error rate (0..1) that opens a closed breaker… */
  errorRateThreshold: number;
  /** …once the window holds at least this many outcomes. */
  minimumVolume: number;
  windowMs: number;
  bucketMs: number;
  /** How long the breaker stays open before it lets probes through. */
  openMs: number;
  /** Probes allowed in flight at once while half-open. */
  halfOpenMaxProbes: number;
  /** Successful probes that close a half-open breaker. */
  successThreshold: number;
}

export const DEFAULT_BREAKER_CONFIG: Readonly<CircuitBreakerConfig> = Object.freeze({
  failureThreshold: 5,
  errorRateThreshold: 0.5,
  minimumVolume: 20,
  windowMs: 60_000,
  bucketMs: 5_000,
  openMs: 60_000,
  halfOpenMaxProbes: 1,
  successThreshold: 2,
});

export interface BreakerSnapshot {
  state: BreakerState;
  consecutive_failures: number;
  /** When the breaker last opened (epoch ms), null when closed. */
  opened_at_ms: number | null;
  /** When an open breaker turns half-open, null unless open. */
  half_open_at_ms: number | null;
  probes_in_flight: number;
  /** Whether a half-open breaker would admit one more probe now. */
  probe_available: boolean;
  half_open_successes: number;
  /** Why it last opened: "5 consecutive failures", "error rate 62% over 21", "tripped: auth". */
  open_reason: string | null;
}

/**
 * Circuit breaker for one (channel, model), a pure state machine over `now()`:
 *
 *   closed ──N consecutive failures, or error rate ≥ threshold with ≥ minimum volume──▶ open
 *   open ──openMs elapsed──▶ half_open (evaluated lazily on read)
 *   half_open ──M successful probes──▶ closed;  ──any failure──▶ open (timer restarts)
 *
 * Half-open admits at most `halfOpenMaxProbes` attempts in flight: callers
 * take a slot with `tryAcquire()` and give it back with `onSuccess()`,
 * `onFailure()` or `release()` (an outcome that says nothing about health).
 */
export class CircuitBreaker {
  private readonly cfg: CircuitBreakerConfig;
  private readonly window: SlidingWindowCounter;
  private st: BreakerState = 'closed';
  private consecutive = 0;
  private openedAt: number | null = null;
  private openUntil: number | null = null;
  private probes = 0;
  private halfOpenSuccesses = 0;
  private reason: string | null = null;

  constructor(
    private readonly now: () => number,
    config: Partial<CircuitBreakerConfig> = {},
  ) {
    this.cfg = { ...DEFAULT_BREAKER_CONFIG, ...config };
    for (const k of ['failureThreshold', 'minimumVolume', 'halfOpenMaxProbes', 'successThreshold'] as const) {
      if (!(Number.isInteger(this.cfg[k]) && this.cfg[k] >= 1)) throw new RangeError(`${k} must be an integer ≥ 1`);
    }
    this.window = new SlidingWindowCounter(this.cfg.windowMs, this.cfg.bucketMs);
  }

  state(): BreakerState {
    if (this.st === 'open' && this.openUntil !== null && this.now() >= this.openUntil) {
      this.st = 'half_open';
      this.probes = 0;
      this.halfOpenSuccesses = 0;
    }
    return this.st;
  }

  /** True when an attempt may go to this channel now (closed, or half-open with a free probe slot). Does not take the slot. */
  canAttempt(): boolean {
    const s = this.state();
    return s === 'closed' || (s === 'half_open' && this.probes < this.cfg.halfOpenMaxProbes);
  }

  /** Takes permission for one attempt; in half-open this takes a probe slot. */
  tryAcquire(): boolean {
    const s = this.state();
    if (s === 'closed') return true;
    if (s === 'half_open' && this.probes < this.cfg.halfOpenMaxProbes) {
      this.probes += 1;
      return true;
    }
    return false;
  }

  onSuccess(): void {
    const nowMs = this.now();
    const s = this.state();
    this.consecutive = 0;
    if (s === 'half_open') {
      this.probes = Math.max(0, this.probes - 1);
      this.halfOpenSuccesses += 1;
      if (this.halfOpenSuccesses >= this.cfg.successThreshold) this.close();
      return;
    }
    if (s === 'closed') this.window.record(true, nowMs, nowMs);
  }

  onFailure(): void {
    const nowMs = this.now();
    const s = this.state();
    this.consecutive += 1;
    if (s === 'half_open') {
      this.trip(this.cfg.openMs, 'probe failed');
      return;
    }
    if (s !== 'closed') return;
    this.window.record(false, nowMs, nowMs);
    if (this.consecutive >= this.cfg.failureThreshold) {
      this.trip(this.cfg.openMs, `${this.consecutive} consecutive failures`);
      return;
    }
    const w = this.window.counts(nowMs);
    const n = w.successes + w.failures;
    if (n >= this.cfg.minimumVolume && w.failures / n >= this.cfg.errorRateThreshold) {
      this.trip(this.cfg.openMs, `error rate ${Math.round((100 * w.failures) / n)}% over ${n}`);
    }
  }

  /** Gives back a probe slot for an attempt whose outcome says nothing about health (client abort, bad request). */
  release(): void {
    if (this.state() === 'half_open') this.probes = Math.max(0, this.probes - 1);
  }

  /** Opens the breaker at once for `forMs` (auth/quota: the channel is out until a probe restores it). */
  trip(forMs: number, reason: string): void {
    const nowMs = this.now();
    this.st = 'open';
    this.openedAt = nowMs;
    this.openUntil = nowMs + (Number.isFinite(forMs) && forMs >= 0 ? forMs : this.cfg.openMs);
    this.probes = 0;
    this.halfOpenSuccesses = 0;
    this.reason = reason;
  }

  /** Closes the breaker (an operator restored the channel, or probes succeeded). */
  close(): void {
    this.st = 'closed';
    this.consecutive = 0;
    this.openedAt = null;
    this.openUntil = null;
    this.probes = 0;
    this.halfOpenSuccesses = 0;
    this.reason = null;
    this.window.reset();
  }

  snapshot(): BreakerSnapshot {
    const state = this.state();
    return {
      state,
      consecutive_failures: this.consecutive,
      opened_at_ms: state === 'closed' ? null : this.openedAt,
      half_open_at_ms: state === 'open' ? this.openUntil : null,
      probes_in_flight: state === 'half_open' ? this.probes : 0,
      probe_available: state === 'half_open' && this.probes < this.cfg.halfOpenMaxProbes,
      half_open_successes: state === 'half_open' ? this.halfOpenSuccesses : 0,
      open_reason: state === 'closed' ? null : this.reason,
    };
  }
}
