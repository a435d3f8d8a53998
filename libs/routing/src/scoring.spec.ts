import { describe, expect, it } from 'vitest';
import type { ChannelStats } from './channel-state';
import { seededRandom } from './seeded-random';
import { blendedPrice, resolveWeights, sampleIndex, scoreCandidates, softmaxProbabilities, WEIGHT_PRESETS, type ScoreInput } from './scoring';

const mulberry32 = seededRandom;

const stats = (ttft: number, tps: number, ok: number, fail: number): ChannelStats => ({
  requests: ok + fail,
  successes: ok,
  failures: fail,
  neutral: 0,
  consecutive_failures: 0,
  ema_ttft_ms: ttft,
  ema_tokens_per_second: tps,
  ema_latency_ms: ttft + 1000,
  p95_ttft_ms: ttft * 1.5,
  recent_mean_ttft_ms: ttft,
  p95_latency_ms: ttft + 1500,
  recent_mean_latency_ms: ttft + 1000,
  window_successes: ok,
  window_failures: fail,
  window_success_rate: ok + fail === 0 ? null : ok / (ok + fail),
  last_success_at_ms: null,
  last_failure_at_ms: null,
  last_error_class: null,
});
const price = (input: number, output = input * 4) => ({ input_nano_per_mtok: input, output_nano_per_mtok: output, cached_input_nano_per_mtok: 0 });
const cand = (id: string, p: number, s: ChannelStats | null): ScoreInput => ({ channel_id: id, price: price(p), stats: s });
const balanced = WEIGHT_PRESETS.balanced;
const scoreOf = (xs: ScoreInput[], id: string, w = balanced) => scoreCandidates(xs, w).find((s) => s.channel_id === id)!.score;

describe('scoreCandidates', () => {
  it('gives identical candidates identical scores of 1', () => {
    const s = scoreCandidates([cand('a', 100, stats(300, 50, 50, 0)), cand('b', 100, stats(300, 50, 50, 0))], balanced);
    expect(s.map((x) => x.score)).toEqual([1, 1]);
  });

  it('never scores a cheaper channel lower, all else equal, under every preset', () => {
    for (const w of Object.values(WEIGHT_PRESETS)) {
      const s = scoreCandidates([cand('cheap', 100, stats(300, 50, 50, 1)), cand('dear', 300, stats(300, 50, 50, 1))], w);
      expect(s[0]!.score).toBeGreaterThan(s[1]!.score);
      expect(s[0]!.components.cost).toBe(1);
      expect(s[1]!.components.cost).toBeCloseTo(1 / 3);
    }
  });

  it('never scores a faster channel (lower TTFT or more tokens/s) lower, all else equal', () => {
    const base = [cand('a', 100, stats(300, 50, 50, 0)), cand('b', 100, stats(600, 50, 50, 0))];
    expect(scoreOf(base, 'a')).toBeGreaterThan(scoreOf(base, 'b'));
    const tps = [cand('a', 100, stats(300, 100, 50, 0)), cand('b', 100, stats(300, 20, 50, 0))];
    expect(scoreOf(tps, 'a')).toBeGreaterThan(scoreOf(tps, 'b'));
  });

  it('never scores a healthier channel lower, all else equal', () => {
    const xs = [cand('a', 100, stats(300, 50, 99, 1)), cand('b', 100, stats(300, 50, 80, 20))];
    expect(scoreOf(xs, 'a')).toBeGreaterThan(scoreOf(xs, 'b'));
  });

  it("a channel's own score never drops when it gets cheaper, faster or healthier (randomised)", () => {
    const rnd = mulberry32(42);
    for (let trial = 0; trial < 2000; trial++) {
      const xs = Array.from({ length: 2 + Math.floor(rnd() * 4) }, (_, i) =>
        cand(`c${i}`, Math.round(rnd() * 1000), rnd() < 0.2 ? null : stats(50 + rnd() * 2000, 5 + rnd() * 200, Math.floor(rnd() * 100), Math.floor(rnd() * 30))),
      );
      const before = scoreOf(xs, 'c0');
      const s0 = xs[0]!.stats;
      const better: ScoreInput[] = [
        { ...xs[0]!, price: price(Math.floor(xs[0]!.price.input_nano_per_mtok * rnd())) },
        ...(s0 ? [{ ...xs[0]!, stats: { ...s0, ema_ttft_ms: s0.ema_ttft_ms! * rnd() } }] : []),
        ...(s0 ? [{ ...xs[0]!, stats: { ...s0, ema_tokens_per_second: s0.ema_tokens_per_second! * (1 + rnd()) } }] : []),
        ...(s0 ? [{ ...xs[0]!, stats: { ...s0, window_successes: s0.window_successes + 1 + Math.floor(rnd() * 10) } }] : []),
      ];
      for (const b of better) {
        for (const w of Object.values(WEIGHT_PRESETS)) {
          expect(scoreOf([b, ...xs.slice(1)], 'c0', w)).toBeGreaterThanOrEqual(scoreOf(xs, 'c0', w) - 1e-12);
        }
      }
      expect(before).toBeGreaterThanOrEqual(0);
      expect(before).toBeLessThanOrEqual(1);
    }
  });

  it('lets the preset decide the trade-off between a cheap slow channel and a dear fast one', () => {
    const xs = [cand('cheap-slow', 100, stats(2000, 20, 100, 0)), cand('dear-fast', 500, stats(200, 150, 100, 0))];
    const best = (w: typeof balanced) => scoreCandidates(xs, w).sort((a, b) => b.score - a.score)[0]!.channel_id;
    expect(best(WEIGHT_PRESETS.economy)).toBe('cheap-slow');
    expect(best(WEIGHT_PRESETS.performance)).toBe('dear-fast');
  });

  it('stability prefers the healthy channel even when it is dearer and slower', () => {
    const xs = [cand('flaky', 100, stats(200, 100, 70, 30)), cand('solid', 200, stats(400, 60, 100, 0))];
    const s = scoreCandidates(xs, WEIGHT_PRESETS.stability);
    expect(s[1]!.score).toBeGreaterThan(s[0]!.score);
  });

  it('gives cold-start channels the median of the known channels and the success prior, flagged as prior', () => {
    const xs = [cand('a', 100, stats(200, 50, 100, 0)), cand('b', 100, stats(600, 50, 100, 0)), cand('new', 100, null)];
    const n = scoreCandidates(xs, balanced).find((s) => s.channel_id === 'new')!;
    expect(n.inputs.ttft_ms).toBe(400);
    expect(n.inputs.expected_ms).toBe(5520); // median of 200+256/50 s and 600+256/50 s
    expect(n.inputs.prior).toEqual(['ttft', 'tps', 'success']);
    expect(n.inputs.success_rate).toBeCloseTo(0.95);
  });

  it('uses fixed priors when nobody has data, and all candidates then tie', () => {
    const s = scoreCandidates([cand('a', 100, null), cand('b', 100, null)], balanced);
    expect(s[0]!.score).toBe(s[1]!.score);
    expect(s[0]!.inputs.ttft_ms).toBe(1000);
  });

  it('smooths a tiny sample so one lucky request does not beat a long record', () => {
    const xs = [cand('one-shot', 100, stats(300, 50, 1, 0)), cand('veteran', 100, stats(300, 50, 990, 10))];
    expect(scoreOf(xs, 'veteran')).toBeGreaterThan(scoreOf(xs, 'one-shot'));
  });

  it('guards zeros and NaN: free channels, zero TTFT, all-failing sets, bad weights', () => {
    const s = scoreCandidates(
      [cand('free', 0, stats(0, 50, 0, 10)), cand('paid', 100, stats(Number.NaN, Number.NaN, 0, 10))],
      { cost: Number.NaN, latency: -1, availability: 0 },
    );
    for (const x of s) {
      expect(Number.isFinite(x.score)).toBe(true);
      expect(x.score).toBeGreaterThanOrEqual(0);
      expect(x.score).toBeLessThanOrEqual(1);
    }
    expect(s[0]!.components.cost).toBe(1);
    expect(scoreCandidates([], balanced)).toEqual([]);
  });

  it('scores a single candidate 1', () => {
    expect(scoreCandidates([cand('a', 500, stats(3000, 5, 1, 9))], balanced)[0]!.score).toBe(1);
  });
});

describe('weights and prices', () => {
  it('custom weights win over the preset; invalid custom weights fall back to it', () => {
    expect(resolveWeights('economy', { cost: 1, latency: 0, availability: 0 })).toEqual({ cost: 1, latency: 0, availability: 0 });
    expect(resolveWeights('economy', { cost: 0, latency: 0, availability: 0 })).toEqual(WEIGHT_PRESETS.economy);
    expect(resolveWeights('stability', null)).toEqual(WEIGHT_PRESETS.stability);
  });
  it('blends input and output prices 3:1 by default', () => {
    expect(blendedPrice(price(100, 500))).toBe(200);
    expect(blendedPrice(price(100, 500), 1)).toBe(100);
  });
});

describe('softmax sampling', () => {
  it('probabilities sum to 1, favour higher scores and respect the exploration floor', () => {
    const p = softmaxProbabilities([0.9, 0.6, 0.1], 0.05, 0.06);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(p[0]!).toBeGreaterThan(p[1]!);
    expect(p[1]!).toBeGreaterThan(p[2]!);
    expect(p[2]!).toBeGreaterThanOrEqual(0.02);
  });

  it('is greedy at temperature 0 and splits evenly among equal best scores', () => {
    expect(softmaxProbabilities([0.5, 0.9, 0.9], 0)).toEqual([0, 0.5, 0.5]);
    expect(softmaxProbabilities([0.5, 0.9], Number.NaN)).toEqual([0, 1]);
  });

  it('stays finite with huge score gaps and tiny temperatures', () => {
    const p = softmaxProbabilities([1, 0], 1e-6);
    expect(p).toEqual([1, 0]);
    expect(softmaxProbabilities([], 1)).toEqual([]);
  });

  it('sampled frequencies match the probabilities (seeded, 20k draws, chi-square)', () => {
    const probs = softmaxProbabilities([0.9, 0.8, 0.5], 0.1, 0.05);
    const rnd = mulberry32(1234);
    const counts = [0, 0, 0];
    const n = 20_000;
    for (let i = 0; i < n; i++) counts[sampleIndex(probs, rnd)]! += 1;
    const chi2 = counts.reduce((acc, c, i) => acc + (c - n * probs[i]!) ** 2 / (n * probs[i]!), 0);
    expect(chi2).toBeLessThan(13.8); // p = 0.001 with 2 degrees of freedom
    expect(counts[2]!).toBeGreaterThan(0); // the weak channel keeps a trickle
  });

  it('a higher temperature spreads traffic more evenly', () => {
    const cold = softmaxProbabilities([0.9, 0.7], 0.02);
    const warm = softmaxProbabilities([0.9, 0.7], 0.5);
    expect(warm[1]!).toBeGreaterThan(cold[1]!);
  });

  it('sampleIndex copes with out-of-range random() and all-zero mass', () => {
    expect(sampleIndex([0.5, 0.5], () => 1)).toBe(1);
    expect(sampleIndex([0.5, 0.5], () => -1)).toBe(0);
    expect(sampleIndex([0, 0], () => 0.3)).toBe(0);
    expect(sampleIndex([], () => 0.3)).toBe(-1);
    expect(sampleIndex([0.2, Number.NaN, 0.8], () => 0.25)).toBe(2);
  });
});
