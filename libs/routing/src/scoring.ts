import type { PriceSnapshot } from '@switchyard/contracts';
import type { ChannelStats } from './channel-state';

/** Relative weights of price, latency and availability; any non-negative numbers (normalised by their sum). */
export interface ScoringWeights {
  cost: number;
  latency: number;
  availability: number;
}

export type WeightPreset = 'balanced' | 'economy' | 'performance' | 'stability';

export const WEIGHT_PRESETS: Readonly<Record<WeightPreset, Readonly<ScoringWeights>>> = Object.freeze({
  balanced: Object.freeze({ cost: 0.3, latency: 0.35, availability: 0.35 }),
  economy: Object.freeze({ cost: 0.6, latency: 0.15, availability: 0.25 }),
  performance: Object.freeze({ cost: 0.05, latency: 0.6, availability: 0.35 }),
  stability: Object.freeze({ cost: 0.1, latency: 0.2, availability: 0.7 }),
});

/** What the score assumes for channels without data (cold start). */
export interface ColdStartPriors {
  ttft_ms: number;
  tokens_per_second: number;
  success_rate: number;
  /** Pseudo-observations of `success_rate` blended into every channel's windowed rate. */
  success_pseudo_count: number;
}

export const DEFAULT_PRIORS: Readonly<ColdStartPriors> = Object.freeze({
  ttft_ms: 1_000,
  tokens_per_second: 50,
  success_rate: 0.95,
  success_pseudo_count: 4,
});

export interface ScoringConfig {
  /** Output tokens assumed when turning TTFT and tokens/s into one expected time (0 = TTFT only). */
  expectedOutputTokens: number;
  /** Input share of the blended price: 0.75 means 3 input tokens per output token. */
  inputShare: number;
  /** Exponent on the success rate: 4 makes 90 % worth 0.66 of 100 %, 99 % worth 0.96. */
  availabilityExponent: number;
  priors: ColdStartPriors;
}

export const DEFAULT_SCORING: Readonly<ScoringConfig> = Object.freeze({
  expectedOutputTokens: 256,
  inputShare: 0.75,
  availabilityExponent: 4,
  priors: DEFAULT_PRIORS,
});

export interface ScoreInput {
  channel_id: string;
  price: PriceSnapshot;
  stats: ChannelStats | null;
}

/** The components and inputs behind one score, for the explanation. */
export interface ScoredCandidate {
  channel_id: string;
  /** Weighted sum of the components, in [0, 1]. */
  score: number;
  /** f(price), g(latency), h(availability), each in [0, 1], 1 = best in the set. */
  components: { cost: number; latency: number; availability: number };
  inputs: {
    /** Blended nano-USD per 1M tokens. */
    price_nano_per_mtok: number;
    ttft_ms: number;
    tokens_per_second: number;
    /** ttft + expectedOutputTokens / tokens_per_second. */
    expected_ms: number;
    success_rate: number;
    /** Which inputs came from priors, not observations. */
    prior: Array<'ttft' | 'tps' | 'success'>;
  };
}

const pos = (v: number | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

/** The weights of a preset, or custom weights; invalid custom weights fall back to the preset. */
export function resolveWeights(preset: WeightPreset, custom?: ScoringWeights | null): ScoringWeights {
  if (custom && validWeights(custom)) return { ...custom };
  return { ...WEIGHT_PRESETS[preset] };
}

export function validWeights(w: ScoringWeights): boolean {
  const vals = [w.cost, w.latency, w.availability];
  return vals.every((v) => Number.isFinite(v) && v >= 0) && vals.some((v) => v > 0);
}

/**
 * Scores candidates relative to each other:
 *
 *   score = (w_c·f + w_l·g + w_a·h) / (w_c + w_l + w_a)
 *   f = cheapest blended price in the set / this blended price   (1 when free)
 *   g = shortest expected time in the set / this expected time,
 *       expected time = TTFT + expectedOutputTokens / tokens-per-second
 *   h = (s / best s in the set)^k, s = success rate smoothed with pseudo-counts of the prior
 *
 * Ratios to the best of the set keep every component in [0, 1] and are
 * monotonic: cheaper, faster or healthier never scores lower, all else
 * equal, and a channel's own score never drops when it gets cheaper, faster
 * or healthier (for sets where every channel has full latency data or none).
 * Cold-start channels get the median expected time of the observed channels
 * (neither favoured nor punished; TTFT and tokens/s shown as the medians),
 * or the fixed priors when nobody has data; a channel with TTFT but no
 * tokens/s gets the median tokens/s. Success rates are smoothed with
 * `success_pseudo_count` observations of the prior rate, so a cold channel
 * starts at the prior and one lucky request does not beat a long record.
 */
export function scoreCandidates(inputs: readonly ScoreInput[], weights: ScoringWeights, config: Partial<ScoringConfig> = {}): ScoredCandidate[] {
  const cfg: ScoringConfig = { ...DEFAULT_SCORING, ...config, priors: { ...DEFAULT_PRIORS, ...config.priors } };
  const w = validWeights(weights) ? weights : WEIGHT_PRESETS.balanced;
  const wSum = w.cost + w.latency + w.availability;
  const share = Number.isFinite(cfg.inputShare) ? Math.min(1, Math.max(0, cfg.inputShare)) : 0.75;
  const outTokens = Number.isFinite(cfg.expectedOutputTokens) && cfg.expectedOutputTokens > 0 ? cfg.expectedOutputTokens : 0;
  const k = Number.isFinite(cfg.availabilityExponent) && cfg.availabilityExponent > 0 ? cfg.availabilityExponent : 1;

  const knownTtft = inputs.map((i) => i.stats?.ema_ttft_ms).filter(pos);
  const knownTps = inputs.map((i) => i.stats?.ema_tokens_per_second).filter(pos);
  const priorTtft = knownTtft.length > 0 ? median(knownTtft) : pos(cfg.priors.ttft_ms) ? cfg.priors.ttft_ms : 1_000;
  const priorTps = knownTps.length > 0 ? median(knownTps) : pos(cfg.priors.tokens_per_second) ? cfg.priors.tokens_per_second : 50;
  const priorRate = Number.isFinite(cfg.priors.success_rate) ? Math.min(1, Math.max(0, cfg.priors.success_rate)) : 0.95;
  const pseudo = Number.isFinite(cfg.priors.success_pseudo_count) && cfg.priors.success_pseudo_count >= 0 ? cfg.priors.success_pseudo_count : 0;

  const raw = inputs.map((i) => {
    const prior: ScoredCandidate['inputs']['prior'] = [];
    const price = blendedPrice(i.price, share);
    const ttftObserved = i.stats?.ema_ttft_ms;
    const ttft = ttftObserved !== null && ttftObserved !== undefined && Number.isFinite(ttftObserved) && ttftObserved >= 0 ? ttftObserved : (prior.push('ttft'), priorTtft);
    const tpsObserved = i.stats?.ema_tokens_per_second;
    const tps = pos(tpsObserved) ? tpsObserved : (prior.push('tps'), priorTps);
    const ok = i.stats?.window_successes ?? 0;
    const fail = i.stats?.window_failures ?? 0;
    if (ok + fail === 0) prior.push('success');
    const denom = ok + fail + pseudo;
    const rate = denom > 0 ? (ok + pseudo * priorRate) / denom : priorRate;
    const cold = prior.includes('ttft') && prior.includes('tps');
    const expected = ttft + (outTokens > 0 ? (outTokens * 1000) / tps : 0);
    return { i, price, ttft, tps, expected, rate, prior, cold };
  });
  // A channel without any latency data is expected to take the median expected time of the channels
  // with data: never below the fastest, so it cannot make an improving channel look relatively worse.
  const knownExpected = raw.filter((r) => !r.prior.includes('ttft') && !r.prior.includes('tps')).map((r) => r.expected);
  if (knownExpected.length > 0) for (const r of raw) if (r.cold) r.expected = median(knownExpected);

  const minPrice = Math.min(...raw.map((r) => r.price));
  const minExpected = Math.min(...raw.map((r) => r.expected));
  const maxRateK = Math.max(...raw.map((r) => Math.pow(r.rate, k)));

  return raw.map((r) => {
    const cost = r.price <= 0 ? 1 : minPrice / r.price;
    const latency = r.expected <= 0 ? 1 : minExpected / r.expected;
    const availability = maxRateK > 0 ? Math.pow(r.rate, k) / maxRateK : 1;
    const score = (w.cost * cost + w.latency * latency + w.availability * availability) / wSum;
    return {
      channel_id: r.i.channel_id,
      score: clamp01(score),
      components: { cost: clamp01(cost), latency: clamp01(latency), availability: clamp01(availability) },
      inputs: { price_nano_per_mtok: r.price, ttft_ms: r.ttft, tokens_per_second: r.tps, expected_ms: r.expected, success_rate: r.rate, prior: r.prior },
    };
  });
}

/** Blended nano-USD per 1M tokens: inputShare·input + (1 − inputShare)·output. */
export function blendedPrice(p: PriceSnapshot, inputShare = 0.75): number {
  const inp = Number.isFinite(p.input_nano_per_mtok) && p.input_nano_per_mtok > 0 ? p.input_nano_per_mtok : 0;
  const out = Number.isFinite(p.output_nano_per_mtok) && p.output_nano_per_mtok > 0 ? p.output_nano_per_mtok : 0;
  return inputShare * inp + (1 - inputShare) * out;
}

/**
 * Softmax over scores with a temperature, mixed with a uniform floor:
 *   p_i = (1 − explore)·exp(s_i/T)/Σexp(s_j/T) + explore/n
 * The floor keeps a trickle on every admitted channel so a recovering one is
 * noticed. T ≤ 0 (or not finite) means greedy: the best score(s) share all
 * of the non-floor mass.
 */
export function softmaxProbabilities(scores: readonly number[], temperature: number, explore = 0): number[] {
  const n = scores.length;
  if (n === 0) return [];
  const s = scores.map((v) => (Number.isFinite(v) ? v : 0));
  const eps = Number.isFinite(explore) ? Math.min(1, Math.max(0, explore)) : 0;
  const max = Math.max(...s);
  let weights: number[];
  if (!(Number.isFinite(temperature) && temperature > 0)) {
    weights = s.map((v) => (v === max ? 1 : 0));
  } else {
    weights = s.map((v) => Math.exp((v - max) / temperature));
  }
  const total = weights.reduce((a, b) => a + b, 0);
  return weights.map((x) => (1 - eps) * (x / total) + eps / n);
}

/** Index drawn from `probabilities` with one `random()` in [0, 1). */
export function sampleIndex(probabilities: readonly number[], random: () => number): number {
  if (probabilities.length === 0) return -1;
  const total = probabilities.reduce((a, b) => a + (Number.isFinite(b) && b > 0 ? b : 0), 0);
  if (!(total > 0)) return 0;
  const r = random();
  let x = (Number.isFinite(r) ? Math.min(Math.max(r, 0), 1 - Number.EPSILON) : 0) * total;
  for (let i = 0; i < probabilities.length; i++) {
    const p = Number.isFinite(probabilities[i]!) && probabilities[i]! > 0 ? probabilities[i]! : 0;
    if (x < p) return i;
    x -= p;
  }
  // Rounding left a sliver: the last index with mass.
  for (let i = probabilities.length - 1; i >= 0; i--) if (probabilities[i]! > 0) return i;
  return 0;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function clamp01(v: number): number {
  return Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0;
}
