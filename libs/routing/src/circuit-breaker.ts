import { SlidingWindowCounter } from './sliding-window';

export type BreakerState = 'closed' | 'open' | 'half_open';

/** How an early probe ended: it answered, it failed against the channel, or it says nothing (aborted). */
export type EarlyProbeOutcome = 'success' | 'failure' | 'none';

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
  /**
   * While open, one request every `earlyProbeMs` may also be sent to the
   * channel beside a healthy one (an early probe, raced: the client never
   * waits on it). Its success half-opens the breaker before `openMs` is up,
   * so a channel that came back is noticed in seconds, not at the end of
   * the open period. 0 = off (recovery waits for `openMs`).
   */
  earlyProbeMs: number;
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
  earlyProbeMs: 10_000,
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
  /** Whether an open breaker would admit an early probe now (see `earlyProbeMs`). */
  early_probe_available: boolean;
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
 *   open ──an early probe succeeds──▶ half_open (counting it as one successful probe)
 *
 * Half-open admits at most `halfOpenMaxProbes` attempts in flight: callers
 * take a slot with `tryAcquire()` and give it back with `onSuccess()`,
 * `onFailure()` or `release()` (an outcome that says nothing about health).
 * An open breaker admits one early probe every `earlyProbeMs`: taken with
 * `tryAcquireEarlyProbe()`, ended with `endEarlyProbe()`; its failure leaves
 * the open period as it was.
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
  private earlyProbeInFlight = false;
  private lastEarlyProbeAt: number | null = null;

  constructor(
    private readonly now: () => number,
    config: Partial<CircuitBreakerConfig> = {},
  ) {
    this.cfg = { ...DEFAULT_BREAKER_CONFIG, ...config };
    for (const k of ['failureThreshold', 'minimumVolume', 'halfOpenMaxProbes', 'successThreshold'] as const) {
      if (!(Number.isInteger(this.cfg[k]) && this.cfg[k] >= 1)) throw new RangeError(`${k} must be an integer ≥ 1`);
    }
    if (!(Number.isFinite(this.cfg.earlyProbeMs) && this.cfg.earlyProbeMs >= 0)) throw new RangeError('earlyProbeMs must be ≥ 0');
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

  /** True when the breaker is open and an early probe may start now. Does not take it. */
  earlyProbeDue(): boolean {
    if (this.state() !== 'open' || this.cfg.earlyProbeMs <= 0 || this.earlyProbeInFlight) return false;
    const since = this.lastEarlyProbeAt ?? this.openedAt ?? 0;
    return this.now() - since >= this.cfg.earlyProbeMs;
  }

  /** Takes the open breaker's early-probe slot (one in flight, one per `earlyProbeMs`). */
  tryAcquireEarlyProbe(): boolean {
    if (!this.earlyProbeDue()) return false;
    this.earlyProbeInFlight = true;
    this.lastEarlyProbeAt = this.now();
    return true;
  }

  /**
   * How an early probe ended: 'success' half-opens a still-open breaker with
   * the probe counted as one success (closed at once when one is enough);
   * 'failure' and 'none' (aborted: it lost the race, or the client left)
   * leave the open period as it was — the next early probe is due
   * `earlyProbeMs` after this one started.
   */
  endEarlyProbe(outcome: EarlyProbeOutcome): void {
    if (!this.earlyProbeInFlight) return;
    this.earlyProbeInFlight = false;
    if (outcome !== 'success') return;
    const s = this.state();
    if (s === 'closed') return;
    if (s === 'open') {
      this.st = 'half_open';
      this.openUntil = null;
      this.probes = 0;
      this.halfOpenSuccesses = 0;
    }
    // Counted like a probe, without touching the half-open probe slots (it never held one).
    this.consecutive = 0;
    this.halfOpenSuccesses += 1;
    if (this.halfOpenSuccesses >= this.cfg.successThreshold) this.close();
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
    this.lastEarlyProbeAt = null;
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
    this.lastEarlyProbeAt = null;
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
      early_probe_available: this.earlyProbeDue(),
      half_open_successes: state === 'half_open' ? this.halfOpenSuccesses : 0,
      open_reason: state === 'closed' ? null : this.reason,
    };
  }
}
