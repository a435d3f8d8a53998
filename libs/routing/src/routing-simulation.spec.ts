import { describe, expect, it } from 'vitest';
import type { PlanCandidate } from '@switchyard/contracts';
import { ChannelStateRegistry } from './channel-state';
import { CircuitBreaker } from './circuit-breaker';
import { PoolSelector } from './pool-strategies';
import { DEFAULT_ROUTE_PREFERENCES, type RoutePreferences } from './route-preferences';
import { planRoute } from './route-planner';
import { seededRandom } from './seeded-random';

/**
 * Closed-loop simulations of the core alone (no HTTP): requests at a fixed
 * rate, each planned, sent to simulated channels, and the outcomes fed back
 * into state and breakers — the loop ingress and router run. They check the
 * behaviour the routing-quality targets ask for, on the policy itself.
 */
interface SimChannel {
  ttftMs: number;
  tokensPerSecond: number;
  failRate: number;
  inputNano: number;
}

const OUTPUT_TOKENS = 256;

function simulate(opts: {
  channels: Record<string, SimChannel>;
  seconds: number;
  rps: number;
  prefs?: Partial<RoutePreferences>;
  /** Called once per simulated second with the time, to change the world. */
  world?: (tSec: number, channels: Record<string, SimChannel>) => void;
  seed?: number;
}) {
  let t = 1_800_000_000_000;
  const now = () => t;
  const random = seededRandom(opts.seed ?? 11);
  const states = new ChannelStateRegistry(now);
  const breakers = new Map(Object.keys(opts.channels).map((id) => [id, new CircuitBreaker(now)]));
  const pool = new PoolSelector('round_robin');
  const prefs = { ...DEFAULT_ROUTE_PREFERENCES, ...opts.prefs };
  const log: Array<{ t: number; first: string; served: string | null; latency: number; calls: number }> = [];

  // Draw one attempt: TTFT spread ±40 %, total = TTFT + generation.
  const draw = (id: string) => {
    const c = opts.channels[id]!;
    const ttft = c.ttftMs * (0.6 + 0.8 * random());
    return { ok: random() >= c.failRate, ttft, total: ttft + (OUTPUT_TOKENS * 1000) / c.tokensPerSecond };
  };

  for (let s = 0; s < opts.seconds; s++) {
    opts.world?.(s, opts.channels);
    for (let r = 0; r < opts.rps; r++) {
      t += 1000 / opts.rps;
      const candidates: PlanCandidate[] = Object.entries(opts.channels).map(([id, c]) => ({
        channel_id: id,
        provider: 'openai',
        base_url: `http://127.0.0.1:1/${id}`,
        upstream_model: 'm',
        priority: 1,
        weight: 1,
        price: { input_nano_per_mtok: c.inputNano, output_nano_per_mtok: c.inputNano * 4, cached_input_nano_per_mtok: 0 },
      }));
      const plan = planRoute({
        model: 'm',
        candidates,
        health: (id) => ({ stats: states.peek(id, 'm'), breaker: breakers.get(id)!.snapshot() }),
        preferences: prefs,
        pool,
        parallel: { inFlight: 0, cap: 64 },
        now,
        random,
      });
      let elapsed = 0;
      let calls = 0;
      let served: string | null = null;
      const attempts = plan.attempts.filter((a) => breakers.get(a.channel_id)!.tryAcquire());
      for (let i = 0; i < attempts.length && served === null; i++) {
        const id = attempts[i]!.channel_id;
        const a = draw(id);
        calls++;
        // smart hedging on the first attempt: the next best starts at the hedge deadline; first good answer wins.
        if (i === 0 && plan.hedge && a.ttft > plan.hedge.after_ms && breakers.get(plan.hedge.channel_id)!.tryAcquire()) {
          const h = draw(plan.hedge.channel_id);
          calls++;
          const hStart = plan.hedge.after_ms;
          const aWins = a.ok && (!h.ok || a.ttft <= hStart + h.ttft);
          const winner = aWins ? id : h.ok ? plan.hedge.channel_id : null;
          for (const [cid, x, start] of [
            [id, a, 0],
            [plan.hedge.channel_id, h, hStart],
          ] as const) {
            const lost = winner !== null && cid !== winner;
            if (lost) {
              states.observe(cid, 'm', { status: 0, error_class: 'cancelled', ttft_ms: null, latency_ms: 0 });
              breakers.get(cid)!.release();
            } else if (x.ok) {
              states.observe(cid, 'm', { status: 200, error_class: null, ttft_ms: x.ttft, latency_ms: x.total, output_tokens: OUTPUT_TOKENS });
              breakers.get(cid)!.onSuccess();
            } else {
              states.observe(cid, 'm', { status: 503, error_class: 'transient', ttft_ms: null, latency_ms: 50 });
              breakers.get(cid)!.onFailure();
            }
            void start;
          }
          if (winner !== null) {
            served = winner;
            elapsed += winner === id ? a.total : hStart + h.total;
          } else elapsed += Math.max(50, hStart + 50);
          // Do not try the hedge channel again as a fallback.
          attempts.splice(
            attempts.findIndex((x) => x.channel_id === plan.hedge!.channel_id),
            attempts.some((x) => x.channel_id === plan.hedge!.channel_id) ? 1 : 0,
          );
          continue;
        }
        if (a.ok) {
          states.observe(id, 'm', { status: 200, error_class: null, ttft_ms: a.ttft, latency_ms: a.total, output_tokens: OUTPUT_TOKENS });
          breakers.get(id)!.onSuccess();
          served = id;
          elapsed += a.total;
        } else {
          states.observe(id, 'm', { status: 503, error_class: 'transient', ttft_ms: null, latency_ms: 50 });
          breakers.get(id)!.onFailure();
          elapsed += 50;
        }
      }
      log.push({ t: s, first: plan.attempts[0]?.channel_id ?? '', served, latency: elapsed, calls });
    }
  }
  const share = (id: string, from: number, to: number) => {
    const xs = log.filter((l) => l.t >= from && l.t < to);
    return xs.filter((l) => l.served === id).length / xs.length;
  };
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return {
    log,
    share,
    successRate: log.filter((l) => l.served !== null).length / log.length,
    meanLatency: mean(log.filter((l) => l.served !== null).map((l) => l.latency)),
    callsPerRequest: mean(log.map((l) => l.calls)),
  };
}

const healthy = (): Record<string, SimChannel> => ({
  a: { ttftMs: 300, tokensPerSecond: 80, failRate: 0, inputNano: 150_000_000 },
  b: { ttftMs: 500, tokensPerSecond: 60, failRate: 0, inputNano: 150_000_000 },
  c: { ttftMs: 900, tokensPerSecond: 40, failRate: 0, inputNano: 150_000_000 },
});

describe('routing simulation (policy only)', () => {
  it('three healthy channels: smart serves mostly the fastest, within 15 % of the fastest channel, at ≤ 1.3 calls per request', () => {
    const sim = simulate({ channels: healthy(), seconds: 120, rps: 10 });
    const fastestMean = 300 + (OUTPUT_TOKENS * 1000) / 80;
    expect(sim.successRate).toBe(1);
    expect(sim.share('a', 20, 120)).toBeGreaterThan(0.8);
    expect(sim.meanLatency).toBeLessThan(fastestMean * 1.15);
    expect(sim.callsPerRequest).toBeLessThanOrEqual(1.3);
  });

  it('one channel hard down: ≥ 99.9 % success, its breaker keeps traffic off it', () => {
    const ch = healthy();
    ch['a']!.failRate = 1;
    const sim = simulate({ channels: ch, seconds: 120, rps: 10 });
    expect(sim.successRate).toBeGreaterThanOrEqual(0.999);
    const firstOnA = sim.log.filter((l) => l.t >= 10 && l.first === 'a').length / sim.log.filter((l) => l.t >= 10).length;
    expect(firstOnA).toBeLessThan(0.05);
  });

  it('one channel failing 30 % at random: traffic moves to the healthy ones and every request is served', () => {
    const ch = healthy();
    ch['a']!.failRate = 0.3;
    const sim = simulate({ channels: ch, seconds: 120, rps: 10, prefs: { preset: 'stability' } });
    expect(sim.successRate).toBeGreaterThanOrEqual(0.999);
    expect(sim.share('a', 30, 120)).toBeLessThan(0.3);
  });

  it('a changing world: follows the best channel within 30 s of each change and probes a recovered one', () => {
    const sim = simulate({
      channels: healthy(),
      seconds: 360,
      rps: 10,
      world: (s, ch) => {
        if (s === 60) ch['a']!.ttftMs = 3000; // the best gets slow → b is best
        if (s === 120) ch['c'] = { ...ch['c']!, ttftMs: 450, tokensPerSecond: 70, inputNano: 30_000_000 }; // c gets cheap and fast
        if (s === 180) ch['c']!.failRate = 1; // c goes down…
        if (s === 240) ch['c']!.failRate = 0; // …and comes back
      },
    });
    expect(sim.share('a', 0, 60)).toBeGreaterThan(0.8);
    expect(sim.share('b', 90, 120)).toBeGreaterThan(0.6);
    expect(sim.share('c', 150, 180)).toBeGreaterThan(0.6);
    expect(sim.share('c', 185, 240)).toBeLessThan(0.05);
    expect(sim.share('c', 270, 360)).toBeGreaterThan(0.6);
    expect(sim.successRate).toBeGreaterThanOrEqual(0.999);
  });
});
