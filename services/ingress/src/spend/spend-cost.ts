import type { PriceSnapshot, TokenUsage } from '@switchyard/contracts';

const MTOK = 1_000_000n;
const PPM = 1_000_000n;

/**
 * The most a request can cost on a channel: every input token at the input
 * rate (the cached rate is never higher) and `maxOutputTokens` at the output
 * rate, times the group multiplier, rounded UP so a hold is never short.
 */
export function worstCaseNano(price: PriceSnapshot, inputTokens: number, maxOutputTokens: number, multiplierPpm: number): bigint {
  const scaled = BigInt(inputTokens) * BigInt(price.input_nano_per_mtok) + BigInt(maxOutputTokens) * BigInt(price.output_nano_per_mtok);
  const d = MTOK * PPM;
  return (scaled * BigInt(multiplierPpm) + d - 1n) / d;
}

/**
 * A finished request's cost as billing will book it from the same prices:
 * billing's chargeNano with the snapshot's rates (reasoning at the output
 * rate, no fee), times the multiplier, rounded half-up once.
 */
export function settledCostNano(usage: TokenUsage, price: PriceSnapshot, multiplierPpm: number): bigint {
  const input = BigInt(usage.input_tokens);
  const cachedRaw = BigInt(usage.cached_input_tokens);
  const cached = cachedRaw < input ? cachedRaw : input;
  const scaled =
    (input - cached) * BigInt(price.input_nano_per_mtok) + cached * BigInt(price.cached_input_nano_per_mtok) + BigInt(usage.output_tokens) * BigInt(price.output_nano_per_mtok);
  const d = MTOK * PPM;
  return (scaled * BigInt(multiplierPpm) + d / 2n) / d;
}
