import type { ErrorClass, PlanCandidate } from '@switchyard/contracts';
import {
  ChannelStateRegistry,
  CircuitBreaker,
  CooldownBook,
  channelModelKey,
  countsAgainstChannel,
  routingActionFor,
  type CandidateHealth,
  type CircuitBreakerConfig,
  type EarlyProbeOutcome,
} from '@switchyard/routing';

export interface ChannelHealthConfig {
  breaker: Partial<CircuitBreakerConfig>;
  /** How long an auth/quota failure takes a channel out before a probe may restore it. */
  disableMs: number;
  /** Cooldown after a 429 without Retry-After. */
  rateLimitCooldownMs: number;
}

export interface AttemptReport {
  candidate: PlanCandidate;
  model: string;
  status: number;
  errorClass: ErrorClass | null;
  ttftMs: number | null;
  latencyMs: number;
  outputTokens?: number;
  retryAfterMs?: number | null;
  /** The attempt was its open breaker's early probe (begun with `earlyProbe`). */
  earlyProbe?: boolean;
}

/**
 * What this ingress has seen of each (channel, model): live latency and
 * success state, a circuit breaker, cooldowns and in-flight counts — the
 * health the routing planner scores on. Fed by this replica's own attempts,
 * so a failing channel is avoided within the next request.
 */
export class ChannelHealthBook {
  readonly states: ChannelStateRegistry;
  private readonly breakers = new Map<string, CircuitBreaker>();
  private readonly cooldowns: CooldownBook;
  private readonly inFlight = new Map<string, number>();

  constructor(
    private readonly cfg: ChannelHealthConfig,
    private readonly now: () => number = Date.now,
  ) {
    this.states = new ChannelStateRegistry(now);
    this.cooldowns = new CooldownBook(now);
  }

  breaker(channelId: string, model: string): CircuitBreaker {
    const k = channelModelKey(channelId, model);
    let b = this.breakers.get(k);
    if (!b) {
      b = new CircuitBreaker(this.now, this.cfg.breaker);
      this.breakers.set(k, b);
    }
    return b;
  }

  health(channelId: string, model: string): CandidateHealth {
    return {
      stats: this.states.peek(channelId, model),
      breaker: this.breakers.get(channelModelKey(channelId, model))?.snapshot(),
      cooldown_until_ms: this.cooldowns.untilMs(channelModelKey(channelId, model)),
    };
  }

  inFlightOf(channelId: string): number {
    return this.inFlight.get(channelId) ?? 0;
  }

  /** Takes the breaker's slot (a probe when half-open, the early probe of an open one with `earlyProbe`); false: skip this channel now. */
  begin(candidate: PlanCandidate, model: string, earlyProbe = false): boolean {
    const breaker = this.breaker(candidate.channel_id, model);
    if (!(earlyProbe ? breaker.tryAcquireEarlyProbe() : breaker.tryAcquire())) return false;
    this.inFlight.set(candidate.channel_id, this.inFlightOf(candidate.channel_id) + 1);
    return true;
  }

  /** Records how an attempt ended and applies what its error class means for the channel; an early probe's outcome as its breaker took it. */
  end(r: AttemptReport): EarlyProbeOutcome | null {
    const id = r.candidate.channel_id;
    this.inFlight.set(id, Math.max(0, this.inFlightOf(id) - 1));
    const k = channelModelKey(id, r.model);
    const breaker = this.breaker(id, r.model);
    this.states.observe(id, r.model, {
      status: r.status,
      error_class: r.errorClass,
      ttft_ms: r.ttftMs,
      latency_ms: r.latencyMs,
      output_tokens: r.outputTokens,
    });
    if (r.errorClass === null) {
      const was = breaker.state();
      if (r.earlyProbe) breaker.endEarlyProbe('success');
      else breaker.onSuccess();
      // Recovered: its outage's failures stop weighing on its score at once.
      if (was !== 'closed' && breaker.state() === 'closed') this.states.get(id, r.model).recovered();
      this.cooldowns.clear(k);
      return r.earlyProbe ? 'success' : null;
    }
    if (!countsAgainstChannel(r.errorClass)) {
      if (r.earlyProbe) breaker.endEarlyProbe('none');
      else breaker.release();
      return r.earlyProbe ? 'none' : null;
    }
    if (r.earlyProbe) breaker.endEarlyProbe('failure');
    else breaker.onFailure();
    const action = routingActionFor(r.errorClass);
    if (action.disable_channel) breaker.trip(this.cfg.disableMs, r.errorClass);
    if (action.cooldown) this.cooldowns.coolDown(k, r.retryAfterMs ?? this.cfg.rateLimitCooldownMs);
    return r.earlyProbe ? 'failure' : null;
  }

  /** Operator view: every (channel, model) this replica has seen. */
  snapshot(): Array<{ channel_id: string; model: string; health: CandidateHealth; in_flight: number }> {
    const out = [];
    for (const k of this.breakers.keys()) {
      const [channelId, model] = k.split('\u0000') as [string, string];
      out.push({ channel_id: channelId, model, health: this.health(channelId, model), in_flight: this.inFlightOf(channelId) });
    }
    return out;
  }
}
