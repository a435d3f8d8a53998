import type { ChannelHealthV1, RoutingPlanV1 } from '@switchyard/contracts';
import type { ChannelStats } from '@switchyard/routing';

/** Reads the cluster-wide stats of one (channel, public model); null when never observed. */
export type HealthLookup = (channelId: string, model: string) => ChannelStats | null;

const round = (v: number | null, digits: number): number | null => {
  if (v === null) return null;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
};

/**
 * The plan's health snapshot of one pair: ChannelStats with times rounded to
 * 0.1 ms and rates to 4 decimals, so the plan stays small and a rounding
 * wobble is not a change worth pushing.
 */
export function healthSnapshot(s: ChannelStats): ChannelHealthV1 {
  return {
    requests: s.requests,
    successes: s.successes,
    failures: s.failures,
    neutral: s.neutral,
    consecutive_failures: s.consecutive_failures,
    ema_ttft_ms: round(s.ema_ttft_ms, 1),
    ema_tokens_per_second: round(s.ema_tokens_per_second, 2),
    ema_latency_ms: round(s.ema_latency_ms, 1),
    p95_ttft_ms: round(s.p95_ttft_ms, 1),
    recent_mean_ttft_ms: round(s.recent_mean_ttft_ms, 1),
    p95_latency_ms: round(s.p95_latency_ms, 1),
    recent_mean_latency_ms: round(s.recent_mean_latency_ms, 1),
    window_successes: s.window_successes,
    window_failures: s.window_failures,
    window_success_rate: round(s.window_success_rate, 4),
    last_success_at_ms: s.last_success_at_ms,
    last_failure_at_ms: s.last_failure_at_ms,
    last_error_class: s.last_error_class,
  };
}

/** A copy of the plan whose candidates carry the current health (none for pairs never observed). */
export function withHealth(plan: RoutingPlanV1, lookup: HealthLookup): RoutingPlanV1 {
  const models: RoutingPlanV1['models'] = {};
  for (const [model, entry] of Object.entries(plan.models)) {
    models[model] = {
      candidates: entry.candidates.map((c) => {
        const { health: _old, ...rest } = c;
        const stats = lookup(c.channel_id, model);
        return stats ? { ...rest, health: healthSnapshot(stats) } : rest;
      }),
    };
  }
  return { ...plan, models };
}

/** The plan without any health: what routing depends on. */
export function stripHealth(plan: RoutingPlanV1): RoutingPlanV1 {
  return withHealth(plan, () => null);
}

/** True when both plans route identically, whatever their health says. */
export function sameRouting(a: RoutingPlanV1 | undefined, b: RoutingPlanV1): boolean {
  return a !== undefined && JSON.stringify(stripHealth(a).models) === JSON.stringify(stripHealth(b).models);
}

/** True when both plans carry the same health for every candidate (routing aside). */
export function sameHealth(a: RoutingPlanV1 | undefined, b: RoutingPlanV1): boolean {
  return a !== undefined && JSON.stringify(healthOf(a)) === JSON.stringify(healthOf(b));
}

function healthOf(plan: RoutingPlanV1): Array<[string, string, ChannelHealthV1 | null]> {
  const out: Array<[string, string, ChannelHealthV1 | null]> = [];
  for (const [model, entry] of Object.entries(plan.models)) {
    for (const c of entry.candidates) out.push([model, c.channel_id, c.health ?? null]);
  }
  return out.sort((x, y) => (x[0] + '\u0000' + x[1] < y[0] + '\u0000' + y[1] ? -1 : 1));
}
