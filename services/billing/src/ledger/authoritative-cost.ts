/** A price row as billing charges with it: integer nano-USD per 1M tokens, plus a per-request fee. */
export interface ChargePrice {
  input_nano_per_mtok: bigint;
  output_nano_per_mtok: bigint;
  cached_input_nano_per_mtok: bigint;
  /** Null: cache writes cost the input rate. */
  cache_write_nano_per_mtok: bigint | null;
  /** Null: reasoning tokens cost the output rate. */
  reasoning_nano_per_mtok: bigint | null;
  request_fee_nano: bigint;
}

export interface ChargeTokens {
  input_tokens: number;
  output_tokens: number;
  /** Part of input_tokens read from the prompt cache. */
  cached_input_tokens: number;
  /** Part of input_tokens written to the prompt cache (not in usage.v1 yet: 0). */
  cache_write_tokens: number;
  /** Part of output_tokens spent reasoning. */
  reasoning_tokens: number;
}

export const PPM = 1_000_000n;
const MTOK = 1_000_000n;

/**
 * The authoritative cost of one request in nano-USD: each token class at its
 * own rate, plus the request fee, times the group multiplier (parts per
 * million), all in BigInt and rounded half-up ONCE at the end. With
 * multiplier ×1, no fee and the default rates this equals
 * `@switchyard/pricing`'s costNano, so ingress's estimate and billing agree.
 * Cached and cache-write tokens are parts of input_tokens, reasoning tokens a
 * part of output_tokens; each part is clamped so nothing is charged twice.
 */
export function chargeNano(tokens: ChargeTokens, price: ChargePrice, multiplierPpm: bigint = PPM): bigint {
  const input = BigInt(tokens.input_tokens);
  const cached = min(BigInt(tokens.cached_input_tokens), input);
  const cacheWrite = min(BigInt(tokens.cache_write_tokens), input - cached);
  const uncached = input - cached - cacheWrite;
  const output = BigInt(tokens.output_tokens);
  const reasoning = min(BigInt(tokens.reasoning_tokens), output);
  const scaled =
    uncached * price.input_nano_per_mtok +
    cached * price.cached_input_nano_per_mtok +
    cacheWrite * (price.cache_write_nano_per_mtok ?? price.input_nano_per_mtok) +
    (output - reasoning) * price.output_nano_per_mtok +
    reasoning * (price.reasoning_nano_per_mtok ?? price.output_nano_per_mtok) +
    price.request_fee_nano * MTOK;
  const denominator = MTOK * PPM;
  return (scaled * multiplierPpm + denominator / 2n) / denominator;
}

/** `cost × ppm / 1e6`, rounded half-up: the multiplier applied to an amount that is already in nano-USD. */
export function applyMultiplier(nano: bigint, multiplierPpm: bigint): bigint {
  return (nano * multiplierPpm + PPM / 2n) / PPM;
}

function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

/** "1.25" → 1_250_000 ppm exactly; at most 6 decimals, non-negative, at most ×1000. */
export function parseMultiplier(text: string): bigint | undefined {
  const m = /^(\d{1,4})(?:\.(\d{1,6}))?$/.exec(text.trim());
  if (!m) return undefined;
  const ppm = BigInt(m[1]!) * PPM + BigInt((m[2] ?? '').padEnd(6, '0'));
  return ppm > 1000n * PPM ? undefined : ppm;
}

/** 1_250_000 → "1.25". */
export function formatMultiplier(ppm: bigint): string {
  const frac = (ppm % PPM).toString().padStart(6, '0').replace(/0+$/, '');
  return `${ppm / PPM}${frac ? `.${frac}` : ''}`;
}
