import { describe, expect, it } from 'vitest';
import type { PlanCandidate } from '@switchyard/contracts';
import type { ChannelStats } from './channel-state';
import { PoolSelector } from './pool-strategies';
import { DEFAULT_ROUTE_PREFERENCES, type RoutePreferences } from './route-preferences';
import { explanationToHeader, explanationToSpanAttribute, planRoute, type CandidateHealth, type PlanInput } from './route-planner';
import { seededRandom } from './seeded-random';

const NOW = 1_700_000_000_000;
const cand = (id: string, opts: { priority?: number; weight?: number; input?: number; output?: number } = {}): PlanCandidate => ({
  channel_id: id,
  provider: 'openai',
  base_url: `http://127.0.0.1:9/${id}`,
  upstream_model: 'm',
  priority: opts.priority ?? 1,
  weight: opts.weight ?? 1,
  price: { input_nano_per_mtok: opts.input ?? 100_000_000, output_nano_per_mtok: opts.output ?? 400_000_000, cached_input_nano_per_mtok: 0 },
});
const stats = (ttft: number, tps = 50, ok = 100, fail = 0, p95 = ttft * 1.5): ChannelStats => ({
  requests: ok + fail,
  successes: ok,
  failures: fail,
  neutral: 0,
  consecutive_failures: 0,
  ema_ttft_ms: ttft,
  ema_tokens_per_second: tps,
  ema_latency_ms: ttft + 1000,
  p95_ttft_ms: p95,
  recent_mean_ttft_ms: ttft,
  p95_latency_ms: ttft + 1500,
  recent_mean_latency_ms: ttft + 1000,
  window_successes: ok,
  window_failures: fail,
  window_success_rate: ok / Math.max(1, ok + fail),
  last_success_at_ms: null,
  last_failure_at_ms: null,
  last_error_class: null,
});

const input = (
  candidates: PlanCandidate[],
  health: Record<string, CandidateHealth>,
  prefs: Partial<RoutePreferences> = {},
  extra: Partial<PlanInput> = {},
): PlanInput => ({
  model: 'm',
  candidates,
  health: (id) => health[id],
  preferences: { ...DEFAULT_ROUTE_PREFERENCES, ...prefs },
  pool: new PoolSelector('round_robin'),
  parallel: { inFlight: 0, cap: 100 },
  now: () => NOW,
  random: seededRandom(7),
  ...extra,
});
const ids = (p: { attempts: { channel_id: string }[] }) => p.attempts.map((a) => a.channel_id);

describe('planRoute: exclusions', () => {
  it('explains why each candidate was left out, and says why there is no plan', () => {
    const plan = planRoute(
      input(
        [cand('a'), cand('b', { input: 5_000_000_000 }), cand('c'), cand('d'), cand('e')],
        {
          c: { stats: null, breaker: { state: 'open', half_open_at_ms: NOW + 12_000 } },
          d: { stats: null, cooldown_until_ms: NOW + 30_000 },
          e: { stats: null, breaker: { state: 'half_open', probe_available: false } },
        },
        { allowed_channels: ['b', 'c', 'd', 'e'], max_price: { input_nano_per_mtok: 1_000_000_000, output_nano_per_mtok: null } },
      ),
    );
    expect(plan.attempts).toEqual([]);
    expect(plan.start_at_once).toBe(0);
    const why = Object.fromEntries(plan.explanation.candidates.map((c) => [c.channel_id, [c.excluded, c.detail]]));
    expect(why).toEqual({
      a: ['not_allowed', null],
      b: ['over_max_price', 'input 5000000000 > 1000000000 nano-USD/1M'],
      c: ['breaker_open', 'half-open in 12s'],
      d: ['cooldown', '30s left'],
      e: ['probe_busy', 'half-open, probe already in flight'],
    });
    expect(plan.explanation.no_candidate_reason).toMatch(/^all 5 candidates excluded: a=not_allowed, b=over_max_price .*c=breaker_open \(half-open in 12s\)/);
    expect(plan.explanation.pick).toBeNull();
  });

  it('says when no channel serves the model at all', () => {
    const plan = planRoute(input([], {}));
    expect(plan.explanation.no_candidate_reason).toBe('no channel serves model "m"');
  });

  it('admits a half-open channel with a free probe slot, marked as a probe', () => {
    const plan = planRoute(input([cand('a')], { a: { stats: null, breaker: { state: 'half_open', probe_available: true } } }));
    expect(plan.attempts).toEqual([expect.objectContaining({ channel_id: 'a', probe: true })]);
  });

  it('lets a channel back in once its cooldown has passed', () => {
    const plan = planRoute(input([cand('a')], { a: { stats: null, cooldown_until_ms: NOW } }));
    expect(ids(plan)).toEqual(['a']);
  });

  it('a single candidate is simply chosen, with no hedge', () => {
    const plan = planRoute(input([cand('a')], { a: { stats: stats(300) } }));
    expect(ids(plan)).toEqual(['a']);
    expect(plan.hedge).toBeNull();
    expect(plan.explanation.pick).toMatchObject({ channel_id: 'a', reason: 'top_score' });
  });
});

describe('planRoute: fallback', () => {
  it('tries channels in priority order, whatever their scores', () => {
    const plan = planRoute(
      input([cand('slow', { priority: 1 }), cand('fast', { priority: 2 })], { slow: { stats: stats(3000) }, fast: { stats: stats(100) } }, { mode: 'fallback' }),
    );
    expect(ids(plan)).toEqual(['slow', 'fast']);
    expect(plan.start_at_once).toBe(1);
    expect(plan.hedge).toBeNull();
    expect(plan.explanation.pick).toMatchObject({ channel_id: 'slow', reason: 'priority' });
    expect(plan.explanation.candidates.find((c) => c.channel_id === 'fast')!.score).toBeGreaterThan(0);
  });

  it('spreads equal priorities with the pool strategy', () => {
    const pool = new PoolSelector('round_robin');
    const firsts = Array.from({ length: 4 }, () => planRoute(input([cand('a'), cand('b'), cand('z', { priority: 9 })], {}, { mode: 'fallback' }, { pool })).attempts.map((a) => a.channel_id));
    expect(firsts).toEqual([
      ['a', 'b', 'z'],
      ['b', 'a', 'z'],
      ['a', 'b', 'z'],
      ['b', 'a', 'z'],
    ]);
  });

  it('puts the requested order first, then the rest by priority', () => {
    const plan = planRoute(input([cand('a', { priority: 1 }), cand('b', { priority: 2 }), cand('c', { priority: 3 })], {}, { mode: 'fallback', order: ['c', 'x'] }));
    expect(ids(plan)).toEqual(['c', 'a', 'b']);
    expect(plan.explanation.pick!.reason).toBe('ordered');
    expect(plan.explanation.notes).toContain('ordered channels not eligible: x');
  });

  it('makes a single attempt when fallbacks are off', () => {
    const plan = planRoute(input([cand('a'), cand('b', { priority: 2 })], {}, { mode: 'fallback', allow_fallbacks: false }));
    expect(ids(plan)).toEqual(['a']);
  });

  it('bounds the attempt list', () => {
    const many = Array.from({ length: 10 }, (_, i) => cand(`c${i}`, { priority: i }));
    expect(planRoute(input(many, {}, { mode: 'fallback' }, { config: { maxAttempts: 3 } })).attempts).toHaveLength(3);
  });
});

describe('planRoute: race', () => {
  const three = [cand('a'), cand('b'), cand('c')];
  const health = { a: { stats: stats(900) }, b: { stats: stats(100) }, c: { stats: stats(400) } };

  it('starts the top N by score at once, the rest stay as fallbacks', () => {
    const plan = planRoute(input(three, health, { mode: 'race', race_n: 2 }));
    expect(ids(plan)).toEqual(['b', 'c', 'a']);
    expect(plan.start_at_once).toBe(2);
    expect(plan.explanation.pick).toMatchObject({ channel_id: 'b', reason: 'race_top_n', detail: 'racing b, c' });
  });

  it('respects the global cap on parallel attempts', () => {
    const plan = planRoute(input(three, health, { mode: 'race', race_n: 3 }, { parallel: { inFlight: 9, cap: 10 } }));
    expect(plan.start_at_once).toBe(2);
    expect(plan.explanation.notes[0]).toMatch(/capped at 2/);
    const full = planRoute(input(three, health, { mode: 'race', race_n: 3 }, { parallel: { inFlight: 10, cap: 10 } }));
    expect(full.start_at_once).toBe(1);
    expect(ids(full)[0]).toBe('b');
  });

  it('races no more channels than are eligible, nor than the config allows', () => {
    expect(planRoute(input([cand('a')], {}, { mode: 'race', race_n: 3 })).start_at_once).toBe(1);
    expect(planRoute(input(three, health, { mode: 'race', race_n: 8 }, { config: { race: { enabled: true, maxN: 2 } } })).start_at_once).toBe(2);
  });

  it('routes smart when race is disabled, and says so', () => {
    const plan = planRoute(input(three, health, { mode: 'race' }, { config: { race: { enabled: false, maxN: 3 } } }));
    expect(plan.mode).toBe('smart');
    expect(plan.explanation.requested_mode).toBe('race');
    expect(plan.explanation.notes).toContain('race is disabled: routed smart');
  });

  it('keeps only the racers when fallbacks are off', () => {
    const plan = planRoute(input(three, health, { mode: 'race', race_n: 2, allow_fallbacks: false }));
    expect(ids(plan)).toEqual(['b', 'c']);
  });
});

describe('planRoute: smart', () => {
  const three = [cand('fast'), cand('mid'), cand('slow')];
  const health: Record<string, CandidateHealth> = {
    fast: { stats: stats(150, 80) },
    mid: { stats: stats(400, 60) },
    slow: { stats: stats(2500, 20) },
  };

  it('sends most traffic to the best channel and a trickle to the others, matching the stated probabilities', () => {
    const random = seededRandom(2024);
    const counts: Record<string, number> = { fast: 0, mid: 0, slow: 0 };
    const n = 10_000;
    let probs: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const plan = planRoute(input(three, health, { preset: 'performance' }, { random }));
      counts[plan.attempts[0]!.channel_id]! += 1;
      probs = Object.fromEntries(plan.explanation.candidates.map((c) => [c.channel_id, c.probability!]));
    }
    expect(probs['fast']! + probs['mid']! + probs['slow']!).toBeCloseTo(1, 3);
    for (const id of Object.keys(counts)) {
      const expected = n * probs[id]!;
      expect(Math.abs(counts[id]! - expected)).toBeLessThan(4 * Math.sqrt(expected * (1 - probs[id]!)) + 1);
    }
    expect(counts['fast']! / n).toBeGreaterThan(0.6);
    expect(counts['slow']!).toBeGreaterThan(0); // recovery can be noticed
  });

  it('always picks the best at temperature 0 without exploration', () => {
    for (let i = 0; i < 50; i++) {
      const plan = planRoute(input(three, health, {}, { random: seededRandom(i), config: { temperature: 0, explore: 0 } }));
      expect(ids(plan)).toEqual(['fast', 'mid', 'slow']);
      expect(plan.explanation.pick!.reason).toBe('top_score');
    }
  });

  it('hedges with the next best after the chosen channel’s own p95 TTFT', () => {
    const plan = planRoute(input(three, { ...health, fast: { stats: stats(150, 80, 100, 0, 850) } }, {}, { config: { temperature: 0, explore: 0 } }));
    expect(plan.hedge).toEqual({ channel_id: 'mid', after_ms: 850 });
    expect(plan.explanation.hedge).toEqual(plan.hedge);
  });

  it('never hedges sooner than the floor, and uses twice the TTFT prior for a cold channel', () => {
    const floor = planRoute(input(three, { ...health, fast: { stats: stats(10, 80, 100, 0, 20) } }, {}, { config: { temperature: 0, explore: 0 } }));
    expect(floor.hedge!.after_ms).toBe(200);
    const cold = planRoute(input([cand('x'), cand('y')], {}, {}, { config: { temperature: 0, explore: 0 } }));
    expect(cold.hedge!.after_ms).toBe(2000);
  });

  it('does not hedge when hedging is off, fallbacks are off, or the parallel cap is reached', () => {
    const cfg = { config: { temperature: 0, explore: 0 } };
    expect(planRoute(input(three, health, { hedge: false }, cfg)).hedge).toBeNull();
    expect(planRoute(input(three, health, { allow_fallbacks: false }, cfg)).hedge).toBeNull();
    const capped = planRoute(input(three, health, {}, { ...cfg, parallel: { inFlight: 5, cap: 5 } }));
    expect(capped.hedge).toBeNull();
    expect(capped.explanation.notes).toContain('no hedge: global parallel-attempt cap reached');
  });

  it('lets the pool strategy choose among equally scored channels (sticky keeps a key on one channel)', () => {
    const equal = [cand('a'), cand('b'), cand('c')];
    const pool = new PoolSelector('sticky');
    const firsts = new Set(Array.from({ length: 30 }, (_, i) => planRoute(input(equal, {}, {}, { pool, stickyKey: 'key-42', random: seededRandom(i) })).attempts[0]!.channel_id));
    expect(firsts.size).toBe(1);
    const other = new Set(Array.from({ length: 60 }, (_, i) => planRoute(input(equal, {}, {}, { pool, stickyKey: `key-${i}`, random: seededRandom(i) })).attempts[0]!.channel_id));
    expect(other.size).toBe(3);
  });

  it('probes a recovered (half-open) channel first, hedged by the best healthy one', () => {
    const plan = planRoute(input(three, { ...health, slow: { stats: stats(2500, 20, 0, 40), breaker: { state: 'half_open', probe_available: true } } }));
    expect(ids(plan)).toEqual(['slow', 'fast', 'mid']);
    expect(plan.attempts[0]!.probe).toBe(true);
    expect(plan.explanation.pick!.reason).toBe('probe');
    expect(plan.hedge!.channel_id).toBe('fast');
    const off = planRoute(input(three, { ...health, slow: { stats: stats(2500, 20, 0, 40), breaker: { state: 'half_open', probe_available: true } } }, {}, { config: { probeHalfOpenFirst: false, temperature: 0, explore: 0 } }));
    expect(ids(off)[0]).toBe('fast');
  });

  it('early-probes an open channel that is due beside the pick (never as a fallback), and says so', () => {
    const down = { ...health, fast: { stats: stats(150, 80, 10, 30), breaker: { state: 'open' as const, early_probe_available: true } } };
    const plan = planRoute(input(three, down, {}, { config: { temperature: 0, explore: 0 } }));
    expect(ids(plan)).toEqual(['mid', 'slow']);
    expect(plan.early_probe).toMatchObject({ channel_id: 'fast', early_probe: true, probe: false });
    expect(plan.attempts.every((a) => !a.early_probe)).toBe(true);
    expect(plan.explanation.early_probe).toEqual({ channel_id: 'fast' });
    expect(explanationToHeader(plan.explanation)).toContain('early_probe=fast');
    expect(plan.explanation.candidates.find((c) => c.channel_id === 'fast')!.excluded).toBe('breaker_open');
  });

  it('no early probe when none is due, outside smart, with fallbacks off, for a channel the request may not use, or without a parallel slot', () => {
    const due = { stats: stats(150, 80, 10, 30), breaker: { state: 'open' as const, early_probe_available: true } };
    const cfg = { config: { temperature: 0, explore: 0 } };
    expect(planRoute(input(three, { ...health, fast: { ...due, breaker: { state: 'open', early_probe_available: false } } }, {}, cfg)).early_probe).toBeNull();
    expect(planRoute(input(three, { ...health, fast: due }, { mode: 'fallback' }, cfg)).early_probe).toBeNull();
    expect(planRoute(input(three, { ...health, fast: due }, { mode: 'race' }, cfg)).early_probe).toBeNull();
    expect(planRoute(input(three, { ...health, fast: due }, { allow_fallbacks: false }, cfg)).early_probe).toBeNull();
    expect(planRoute(input(three, { ...health, fast: due }, { allowed_channels: ['mid', 'slow'] }, cfg)).early_probe).toBeNull();
    // One free parallel slot goes to the hedge first; two leave room for the probe too.
    expect(planRoute(input(three, { ...health, fast: due }, {}, { ...cfg, parallel: { inFlight: 4, cap: 5 } })).early_probe).toBeNull();
    expect(planRoute(input(three, { ...health, fast: due }, {}, { ...cfg, parallel: { inFlight: 3, cap: 5 } })).early_probe).not.toBeNull();
  });

  it('round-robins among equally scored channels, one step per request', () => {
    const pool = new PoolSelector('round_robin');
    const firsts = Array.from({ length: 4 }, (_, i) => planRoute(input([cand('a'), cand('b')], {}, {}, { pool, random: seededRandom(i) })).attempts[0]!.channel_id);
    expect(firsts).toEqual(['a', 'b', 'a', 'b']);
  });

  it('honours a requested order ahead of the scores', () => {
    const plan = planRoute(input(three, health, { order: ['slow'] }));
    expect(ids(plan)).toEqual(['slow', 'fast', 'mid']);
    expect(plan.explanation.pick!.reason).toBe('ordered');
  });

  it('moves traffic away from an unhealthy channel', () => {
    const sick = { ...health, fast: { stats: stats(150, 80, 40, 60) } };
    const random = seededRandom(3);
    let fast = 0;
    for (let i = 0; i < 2000; i++) if (planRoute(input(three, sick, {}, { random })).attempts[0]!.channel_id === 'fast') fast++;
    expect(fast / 2000).toBeLessThan(0.1);
  });

  it('prefers the cheaper channel under the economy preset', () => {
    const plan = planRoute(
      input([cand('cheap', { input: 100_000_000, output: 400_000_000 }), cand('dear', { input: 2_500_000_000, output: 10_000_000_000 })], { cheap: { stats: stats(600) }, dear: { stats: stats(300) } }, { preset: 'economy' }, { config: { temperature: 0, explore: 0 } }),
    );
    expect(ids(plan)[0]).toBe('cheap');
  });
});

describe('explanations', () => {
  const plan = planRoute(
    input([cand('a'), cand('b'), cand('c')], { a: { stats: stats(200) }, b: { stats: stats(600) }, c: { stats: null, breaker: { state: 'open' } } }, {}, { config: { temperature: 0, explore: 0 } }),
  );

  it('records every candidate with its score components and the reason for the pick, and survives JSON', () => {
    const e = plan.explanation;
    expect(e.candidates.map((c) => c.channel_id)).toEqual(['a', 'b', 'c']);
    const a = e.candidates[0]!;
    expect(a.components).toEqual({ cost: 1, latency: 1, availability: 1 });
    expect(a.rank).toBe(0);
    expect(a.inputs!.ttft_ms).toBe(200);
    expect(e.candidates[2]).toMatchObject({ excluded: 'breaker_open', score: null, rank: null });
    expect(e.pick).toMatchObject({ channel_id: 'a' });
    expect(JSON.parse(explanationToSpanAttribute(e))).toEqual(e);
  });

  it('fits a compact, header-safe x-switchyard-explain value', () => {
    const h = explanationToHeader(plan.explanation);
    expect(h).toMatch(/^mode=smart; pick=a; reason=top_score p=1; hedge=b@300ms; scores=a:1\.00,b:0\.\d\d; excluded=c:breaker_open$/);
    expect(h).toMatch(/^[\x20-\x7e]+$/);
  });

  it('says why when nothing could be picked, and bounds the length', () => {
    const none = planRoute(input([cand('a')], { a: { stats: null, breaker: { state: 'open' } } }));
    expect(explanationToHeader(none.explanation)).toBe('mode=smart; pick=none; reason=all 1 candidates excluded: a=breaker_open; excluded=a:breaker_open');
    const many = planRoute(input(Array.from({ length: 200 }, (_, i) => cand(`channel-${i}`)), {}));
    expect(explanationToHeader(many.explanation).length).toBeLessThanOrEqual(1024);
    const attr = explanationToSpanAttribute(many.explanation, 4096);
    expect(attr.length).toBeLessThanOrEqual(4096);
    const parsed = JSON.parse(attr) as { candidates: { rank: number }[]; candidates_omitted: number };
    expect(parsed.candidates[0]!.rank).toBe(0);
    expect(parsed.candidates.length + parsed.candidates_omitted).toBe(200);
  });
});
