import type { PlanCandidate } from '@switchyard/contracts';
import type { ChannelStats } from './channel-state';
import type { BreakerState } from './circuit-breaker';
import type { PoolSelector } from './pool-strategies';
import type { RouteMode, RoutePreferences } from './route-preferences';
import {
  DEFAULT_PRIORS,
  resolveWeights,
  sampleIndex,
  scoreCandidates,
  softmaxProbabilities,
  type ScoredCandidate,
  type ScoringConfig,
  type ScoringWeights,
  type WeightPreset,
} from './scoring';

/** What the planner knows about one candidate channel for this model right now. */
export interface CandidateHealth {
  stats: ChannelStats | null;
  /** A BreakerSnapshot fits here; absent = closed. */
  breaker?: { state: BreakerState; probe_available?: boolean; early_probe_available?: boolean; half_open_at_ms?: number | null };
  /** Epoch ms until which the channel is cooling down (Retry-After, rate limit); null/absent = none. */
  cooldown_until_ms?: number | null;
}

export interface PlannerConfig {
  scoring: Partial<ScoringConfig>;
  /** Softmax temperature over scores in [0, 1]; 0 = always the best. */
  temperature: number;
  /** Uniform share mixed into the softmax so every admitted channel keeps a trickle. */
  explore: number;
  /** Scores closer than this are equal: the pool strategy orders them. */
  tieEpsilon: number;
  /**
   * smart: send the request first to a half-open channel with a free probe
   * slot (hedged as usual), so a recovered channel is noticed at once
   * instead of waiting for the exploration trickle.
   */
  probeHalfOpenFirst: boolean;
  /** Longest attempt list a plan returns (race starts count as attempts). */
  maxAttempts: number;
  race: { enabled: boolean; maxN: number };
  hedge: {
    enabled: boolean;
    /** Never hedge sooner than this, however fast the channel's p95. */
    floorMs: number;
    /** Never wait longer than this before hedging. */
    ceilingMs: number;
  };
}

export const DEFAULT_PLANNER_CONFIG: Readonly<PlannerConfig> = Object.freeze({
  scoring: {},
  temperature: 0.05,
  explore: 0.02,
  tieEpsilon: 0.001,
  probeHalfOpenFirst: true,
  maxAttempts: 5,
  race: Object.freeze({ enabled: true, maxN: 3 }),
  hedge: Object.freeze({ enabled: true, floorMs: 200, ceilingMs: 30_000 }),
});

export interface PlanInput {
  /** The public model (for the explanation). */
  model: string;
  candidates: readonly PlanCandidate[];
  health: (channelId: string) => CandidateHealth | undefined;
  preferences: RoutePreferences;
  /** Over DEFAULT_PLANNER_CONFIG. Merged once per object: pass the same one on every request, and do not change it. */
  config?: Partial<PlannerConfig>;
  /** Orders equally scored (smart, race) or equal-priority (fallback) channels. */
  pool: PoolSelector;
  stickyKey?: string;
  inFlight?: (channelId: string) => number;
  /** Global cap on concurrent parallel attempts (race extras, hedges) and how many run now. */
  parallel: { inFlight: number; cap: number };
  now: () => number;
  random: () => number;
}

export type ExclusionReason = 'not_allowed' | 'over_max_price' | 'breaker_open' | 'probe_busy' | 'cooldown';
export type PickReason = 'sampled' | 'top_score' | 'ordered' | 'priority' | 'race_top_n' | 'probe';

export interface PlannedAttempt {
  channel_id: string;
  candidate: PlanCandidate;
  /** The channel's breaker is half-open: this attempt is a probe (take the slot with tryAcquire). */
  probe: boolean;
  /** The channel's breaker is open and this attempt is its early probe (take it with tryAcquireEarlyProbe). */
  early_probe: boolean;
}

export interface CandidateExplanation {
  channel_id: string;
  provider: string;
  breaker: BreakerState;
  excluded: ExclusionReason | null;
  /** Human detail for the exclusion: "half-open in 12s", "input 3.00 > 1.00 USD/1M". */
  detail: string | null;
  score: number | null;
  components: ScoredCandidate['components'] | null;
  inputs: ScoredCandidate['inputs'] | null;
  /** Chance this candidate was the smart pick. */
  probability: number | null;
  /** Position in the attempt list (0 = first), null when not in it. */
  rank: number | null;
}

/** Why a request went where it went: serialisable for a span attribute and, compacted, for a header. */
export interface RouteExplanation {
  model: string;
  requested_mode: RouteMode;
  mode: RouteMode;
  preset: WeightPreset;
  weights: ScoringWeights;
  temperature: number;
  candidates: CandidateExplanation[];
  pick: { channel_id: string; reason: PickReason; detail: string } | null;
  hedge: { channel_id: string; after_ms: number } | null;
  /** An open channel probed beside the pick (smart): recovery noticed before its breaker's timeout. */
  early_probe: { channel_id: string } | null;
  notes: string[];
  /** Set when the plan has no attempt: why. */
  no_candidate_reason: string | null;
}

export interface AttemptPlan {
  mode: RouteMode;
  /** Ordered attempts: the first `start_at_once` start together; the rest are fallbacks, in order. */
  attempts: PlannedAttempt[];
  start_at_once: number;
  /** smart: start `channel_id` if attempts[0] has no first byte after `after_ms`. */
  hedge: { channel_id: string; after_ms: number } | null;
  /**
   * smart: an open channel due for an early probe, started together with
   * attempts[0] and raced with it (the first to answer serves the client;
   * the other is aborted). Not one of `attempts`: never a fallback.
   */
  early_probe: PlannedAttempt | null;
  explanation: RouteExplanation;
}

const POW10 = [1, 10, 100, 1_000, 10_000];
const round = (v: number, d = 4): number => (Number.isFinite(v) ? Math.round(v * POW10[d]!) / POW10[d]! : 0);

/** Merged configs by the caller's partial: callers pass one config object on every request, merged once. */
const mergedConfigs = new WeakMap<Partial<PlannerConfig>, PlannerConfig>();

function plannerConfig(partial: Partial<PlannerConfig> | undefined): PlannerConfig {
  if (!partial) return DEFAULT_PLANNER_CONFIG;
  let cfg = mergedConfigs.get(partial);
  if (!cfg) {
    cfg = {
      ...DEFAULT_PLANNER_CONFIG,
      ...partial,
      race: { ...DEFAULT_PLANNER_CONFIG.race, ...partial.race },
      hedge: { ...DEFAULT_PLANNER_CONFIG.hedge, ...partial.hedge },
    };
    mergedConfigs.set(partial, cfg);
  }
  return cfg;
}

/**
 * Decides the attempt plan for one request.
 *
 * Every candidate is first checked against the request (allowed channels,
 * max price) and its health (breaker open, half-open without a free probe
 * slot, cooldown); what passes is scored. Then by mode:
 * - fallback: `order` first, then priority (equal priorities by the pool
 *   strategy); one at a time.
 * - race: `order` first, then best scores; the first N start at once, N
 *   bounded by the preference, the config, the candidates and the free
 *   global parallel capacity.
 * - smart: `order` first when given; otherwise the first channel is sampled
 *   by softmax over the scores (equal scores form one group, ordered by the
 *   pool strategy); the rest follow by score. A half-open channel with a
 *   free probe slot goes first (one probe; `probeHalfOpenFirst`). With hedging on, the next best
 *   starts if the first has no first byte by its own p95 TTFT (floored). An open channel due
 *   for an early probe (its breaker says so) starts beside the first (`early_probe`).
 */
export function planRoute(input: PlanInput): AttemptPlan {
  const cfg = plannerConfig(input.config);
  const pref = input.preferences;
  const nowMs = input.now();
  const weights = resolveWeights(pref.preset, pref.weights);
  const notes: string[] = [];

  let mode = pref.mode;
  if (mode === 'race' && !cfg.race.enabled) {
    mode = 'smart';
    notes.push('race is disabled: routed smart');
  }

  // 1. Exclusions.
  const allowed = pref.allowed_channels ? new Set(pref.allowed_channels) : null;
  // Each candidate's health is read once per plan (the planner runs synchronously: it cannot change meanwhile).
  const healthById = new Map<string, CandidateHealth | undefined>();
  const expl: CandidateExplanation[] = [];
  const eligible: PlanCandidate[] = [];
  for (const c of input.candidates) {
    if (healthById.has(c.channel_id)) continue;
    const h = input.health(c.channel_id);
    healthById.set(c.channel_id, h);
    const breaker = h?.breaker?.state ?? 'closed';
    const e: CandidateExplanation = {
      channel_id: c.channel_id,
      provider: c.provider,
      breaker,
      excluded: null,
      detail: null,
      score: null,
      components: null,
      inputs: null,
      probability: null,
      rank: null,
    };
    const mp = pref.max_price;
    if (allowed && !allowed.has(c.channel_id)) e.excluded = 'not_allowed';
    else if (mp && mp.input_nano_per_mtok !== null && c.price.input_nano_per_mtok > mp.input_nano_per_mtok) {
      e.excluded = 'over_max_price';
      e.detail = `input ${c.price.input_nano_per_mtok} > ${mp.input_nano_per_mtok} nano-USD/1M`;
    } else if (mp && mp.output_nano_per_mtok !== null && c.price.output_nano_per_mtok > mp.output_nano_per_mtok) {
      e.excluded = 'over_max_price';
      e.detail = `output ${c.price.output_nano_per_mtok} > ${mp.output_nano_per_mtok} nano-USD/1M`;
    } else if (breaker === 'open') {
      e.excluded = 'breaker_open';
      const at = h?.breaker?.half_open_at_ms;
      if (typeof at === 'number' && Number.isFinite(at)) e.detail = `half-open in ${Math.max(0, Math.ceil((at - nowMs) / 1000))}s`;
    } else if (breaker === 'half_open' && h?.breaker?.probe_available === false) {
      e.excluded = 'probe_busy';
      e.detail = 'half-open, probe already in flight';
    } else if (typeof h?.cooldown_until_ms === 'number' && h.cooldown_until_ms > nowMs) {
      e.excluded = 'cooldown';
      e.detail = `${Math.ceil((h.cooldown_until_ms - nowMs) / 1000)}s left`;
    }
    expl.push(e);
    if (e.excluded === null) eligible.push(c);
  }

  const explById = new Map(expl.map((e) => [e.channel_id, e]));
  const explanation: RouteExplanation = {
    model: input.model,
    requested_mode: pref.mode,
    mode,
    preset: pref.preset,
    weights: { cost: round(weights.cost), latency: round(weights.latency), availability: round(weights.availability) },
    temperature: cfg.temperature,
    candidates: expl,
    pick: null,
    hedge: null,
    early_probe: null,
    notes,
    no_candidate_reason: null,
  };

  if (eligible.length === 0) {
    explanation.no_candidate_reason =
      input.candidates.length === 0
        ? `no channel serves model "${input.model}"`
        : `all ${expl.length} candidates excluded: ${expl.map((e) => `${e.channel_id}=${e.excluded}${e.detail ? ` (${e.detail})` : ''}`).join(', ')}`;
    return { mode, attempts: [], start_at_once: 0, hedge: null, early_probe: null, explanation };
  }

  // 2. Scores (all modes: the explanation shows them).
  const scored = scoreCandidates(
    eligible.map((c) => ({ channel_id: c.channel_id, price: c.price, stats: healthById.get(c.channel_id)?.stats ?? null })),
    weights,
    cfg.scoring,
  );
  const byId = new Map(eligible.map((c) => [c.channel_id, c]));
  const scoreOf = new Map(scored.map((s) => [s.channel_id, s]));
  for (const e of expl) {
    const s = scoreOf.get(e.channel_id);
    if (!s) continue;
    e.score = round(s.score);
    e.components = { cost: round(s.components.cost), latency: round(s.components.latency), availability: round(s.components.availability) };
    e.inputs = { ...s.inputs, expected_ms: round(s.inputs.expected_ms, 1), ttft_ms: round(s.inputs.ttft_ms, 1), tokens_per_second: round(s.inputs.tokens_per_second, 2), success_rate: round(s.inputs.success_rate) };
  }
  const isHalfOpen = (id: string): boolean => healthById.get(id)?.breaker?.state === 'half_open';
  const poolCtx = { random: input.random, stickyKey: input.stickyKey, inFlight: input.inFlight };
  const member = (id: string): { channel_id: string; weight: number } => ({ channel_id: id, weight: byId.get(id)!.weight });

  // Equal-score groups, best first.
  const groups: string[][] = [];
  for (const s of [...scored].sort((a, b) => b.score - a.score || (a.channel_id < b.channel_id ? -1 : 1))) {
    const g = groups[groups.length - 1];
    if (g && scoreOf.get(g[0]!)!.score - s.score <= cfg.tieEpsilon) g.push(s.channel_id);
    else groups.push([s.channel_id]);
  }
  const led = (pref.order ?? []).filter((id) => byId.has(id));
  const ledSet = new Set(led);
  if (pref.order && led.length < pref.order.length) notes.push(`ordered channels not eligible: ${pref.order.filter((id) => !byId.has(id)).join(', ')}`);

  let order: string[];
  let pick: RouteExplanation['pick'];
  let startAtOnce = 1;
  let hedge: AttemptPlan['hedge'] = null;
  const freeParallel = Math.max(0, Math.floor(input.parallel.cap) - Math.floor(input.parallel.inFlight));

  if (mode === 'fallback') {
    const rest = [...eligible].filter((c) => !ledSet.has(c.channel_id)).sort((a, b) => a.priority - b.priority);
    const ordered: string[] = [];
    for (let i = 0; i < rest.length; ) {
      let j = i;
      while (j < rest.length && rest[j]!.priority === rest[i]!.priority) j++;
      const tier = rest.slice(i, j);
      ordered.push(...(tier.length > 1 ? input.pool.order(tier.map((c) => member(c.channel_id)), poolCtx) : tier.map((c) => c.channel_id)));
      i = j;
    }
    order = [...led, ...ordered];
    pick = led.length > 0 ? { channel_id: order[0]!, reason: 'ordered', detail: 'first of the requested order' } : { channel_id: order[0]!, reason: 'priority', detail: `priority ${byId.get(order[0]!)!.priority}` };
  } else {
    // Best-first by score; the leading group ordered by the pool strategy.
    // (The pool orders a group once per request: round robin must advance one step, not two.)
    const ranked = (sampledGroup: number, sampledOrder?: string[]): string[] => {
      const out: string[] = [];
      groups.forEach((g, gi) => {
        const members = g.filter((id) => !ledSet.has(id));
        if (members.length === 0) return;
        if (gi === sampledGroup && sampledOrder) out.push(...sampledOrder);
        else out.push(...(gi === sampledGroup && members.length > 1 ? input.pool.order(members.map(member), poolCtx) : members));
      });
      return out;
    };
    if (mode === 'race') {
      const byScore = ranked(led.length > 0 ? -1 : 0);
      order = [...led, ...byScore];
      const wanted = Math.min(pref.race_n, cfg.race.maxN, order.length);
      startAtOnce = Math.max(1, Math.min(wanted, 1 + freeParallel));
      if (startAtOnce < wanted) notes.push(`race capped at ${startAtOnce} by the global parallel-attempt cap`);
      if (startAtOnce < pref.race_n && startAtOnce === order.length) notes.push(`only ${order.length} eligible channel(s) to race`);
      pick = { channel_id: order[0]!, reason: led.length > 0 ? 'ordered' : 'race_top_n', detail: `racing ${order.slice(0, startAtOnce).join(', ')}` };
    } else if (led.length > 0) {
      order = [...led, ...ranked(-1)];
      pick = { channel_id: order[0]!, reason: 'ordered', detail: 'first of the requested order' };
    } else if (cfg.probeHalfOpenFirst && eligible.some((c) => isHalfOpen(c.channel_id)) && eligible.some((c) => !isHalfOpen(c.channel_id))) {
      const probe = eligible.find((c) => isHalfOpen(c.channel_id))!.channel_id;
      order = [probe, ...ranked(-1).filter((id) => id !== probe)];
      pick = { channel_id: probe, reason: 'probe', detail: 'half-open breaker: probing whether the channel recovered' };
    } else {
      // Softmax per channel; a group of equals is sampled as one (its members' mass summed), then the pool picks inside it.
      // A plain loop: Array.prototype.flat is slow in V8 (the planner's costliest line under load).
      const flat: string[] = [];
      for (const g of groups) for (const id of g) flat.push(id);
      const probs = softmaxProbabilities(
        flat.map((id) => scoreOf.get(id)!.score),
        cfg.temperature,
        cfg.explore,
      );
      const pOf = new Map(flat.map((id, i) => [id, probs[i]!]));
      const groupMass = groups.map((g) => g.reduce((a, id) => a + pOf.get(id)!, 0));
      const total = groupMass.reduce((a, b) => a + b, 0);
      const gi = sampleIndex(groupMass, input.random);
      groups.forEach((g, i) => g.forEach((id) => (explById.get(id)!.probability = round(groupMass[i]! / total / g.length))));
      const groupOrder = input.pool.order(groups[gi]!.map(member), poolCtx);
      const first = groupOrder[0]!;
      order = [first, ...ranked(gi, groupOrder).filter((id) => id !== first)];
      const greedy = !(cfg.temperature > 0) && !(cfg.explore > 0);
      pick = {
        channel_id: first,
        reason: greedy || (gi === 0 && groups.length === 1) ? 'top_score' : 'sampled',
        detail: `p=${round(groupMass[gi]! / total, 3)}${groups[gi]!.length > 1 ? ` (pool ${input.pool.strategy} among ${groups[gi]!.length})` : ''}`,
      };
    }
  }

  if (!pref.allow_fallbacks) {
    order = order.slice(0, startAtOnce);
    notes.push('fallbacks off: no further attempts');
  }
  order = order.slice(0, Math.max(startAtOnce, Math.max(1, Math.floor(cfg.maxAttempts))));

  if (mode === 'smart' && pref.hedge && cfg.hedge.enabled && order.length >= 2) {
    if (freeParallel < 1) notes.push('no hedge: global parallel-attempt cap reached');
    else {
      const stats = healthById.get(order[0]!)?.stats ?? null;
      const prior = cfg.scoring.priors?.ttft_ms ?? DEFAULT_PRIORS.ttft_ms;
      const basis = stats?.p95_ttft_ms ?? (stats?.ema_ttft_ms !== null && stats?.ema_ttft_ms !== undefined ? stats.ema_ttft_ms * 2 : prior * 2);
      const after = Math.round(Math.min(cfg.hedge.ceilingMs, Math.max(cfg.hedge.floorMs, Number.isFinite(basis) ? basis : cfg.hedge.ceilingMs)));
      hedge = { channel_id: order[1]!, after_ms: after };
    }
  }

  // An open channel whose breaker is due for an early probe runs beside the pick (smart only: race
  // already fans out, fallback goes one at a time). It needs a parallel slot of its own, and the
  // request's leave to use more than one channel.
  let earlyProbe: PlannedAttempt | null = null;
  if (mode === 'smart' && pref.allow_fallbacks && freeParallel - (hedge ? 1 : 0) >= 1) {
    const due = input.candidates.find((c) => explById.get(c.channel_id)?.excluded === 'breaker_open' && healthById.get(c.channel_id)?.breaker?.early_probe_available === true);
    if (due) {
      earlyProbe = { channel_id: due.channel_id, candidate: due, probe: false, early_probe: true };
      explanation.early_probe = { channel_id: due.channel_id };
    }
  }

  order.forEach((id, i) => (explById.get(id)!.rank = i));
  explanation.pick = pick;
  explanation.hedge = hedge;
  return {
    mode,
    attempts: order.map((id) => ({ channel_id: id, candidate: byId.get(id)!, probe: (healthById.get(id)?.breaker?.state ?? 'closed') === 'half_open', early_probe: false })),
    start_at_once: Math.min(startAtOnce, order.length),
    hedge,
    early_probe: earlyProbe,
    explanation,
  };
}

/** The explanation as one JSON string for a span attribute; over `maxLength` the candidates are slimmed and the tail dropped (still valid JSON). */
export function explanationToSpanAttribute(e: RouteExplanation, maxLength = 8_192): string {
  const s = JSON.stringify(e);
  if (s.length <= maxLength) return s;
  // Too many candidates: keep the ones that were picked or ranked first, slimmed, and say how many were dropped.
  const slimmed = [...e.candidates]
    .sort((a, b) => (a.rank ?? Number.MAX_SAFE_INTEGER) - (b.rank ?? Number.MAX_SAFE_INTEGER))
    .map((c) => ({ channel_id: c.channel_id, excluded: c.excluded, score: c.score, rank: c.rank }));
  const base = { ...e, no_candidate_reason: e.no_candidate_reason?.slice(0, 512) ?? null, candidates: [] as typeof slimmed, candidates_omitted: 0 };
  let lo = 0;
  let hi = slimmed.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    const fits = JSON.stringify({ ...base, candidates: slimmed.slice(0, mid), candidates_omitted: slimmed.length - mid }).length <= maxLength;
    if (fits) lo = mid;
    else hi = mid - 1;
  }
  return JSON.stringify({ ...base, candidates: slimmed.slice(0, lo), candidates_omitted: slimmed.length - lo });
}

/**
 * The explanation as a compact, header-safe value for `x-switchyard-explain`:
 *
 *   mode=smart; pick=ch-a; reason=sampled p=0.62; hedge=ch-b@850ms;
 *   scores=ch-a:0.82,ch-b:0.64; excluded=ch-c:breaker_open
 */
export function explanationToHeader(e: RouteExplanation, maxLength = 1_024): string {
  const safe = (s: string): string => s.replace(/[^\x20-\x7e]/g, '?').replace(/[;,]/g, '_');
  const parts = [`mode=${e.mode}${e.mode !== e.requested_mode ? ` (asked ${e.requested_mode})` : ''}`];
  if (e.pick) parts.push(`pick=${safe(e.pick.channel_id)}`, `reason=${e.pick.reason} ${safe(e.pick.detail)}`);
  else parts.push(`pick=none`, `reason=${safe(e.no_candidate_reason ?? 'no candidate')}`);
  if (e.hedge) parts.push(`hedge=${safe(e.hedge.channel_id)}@${e.hedge.after_ms}ms`);
  if (e.early_probe) parts.push(`early_probe=${safe(e.early_probe.channel_id)}`);
  const scored = e.candidates.filter((c) => c.score !== null).sort((a, b) => (b.score ?? 0) - (a.score ?? 0));
  if (scored.length > 0) parts.push(`scores=${scored.map((c) => `${safe(c.channel_id)}:${(c.score ?? 0).toFixed(2)}`).join(',')}`);
  const excluded = e.candidates.filter((c) => c.excluded !== null);
  if (excluded.length > 0) parts.push(`excluded=${excluded.map((c) => `${safe(c.channel_id)}:${c.excluded}`).join(',')}`);
  const out = parts.join('; ');
  return out.length <= maxLength ? out : `${out.slice(0, maxLength - 3)}...`;
}
