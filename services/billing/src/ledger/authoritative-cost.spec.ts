import { describe, expect, it } from 'vitest';
import { costNano } from '@switchyard/pricing';
import { chargeNano, formatMultiplier, parseMultiplier, type ChargePrice } from './authoritative-cost';

const price: ChargePrice = {
  input_nano_per_mtok: 150_000_000n,
  output_nano_per_mtok: 600_000_000n,
  cached_input_nano_per_mtok: 75_000_000n,
  cache_write_nano_per_mtok: null,
  reasoning_nano_per_mtok: null,
  request_fee_nano: 0n,
};
const tokens = { input_tokens: 1000, output_tokens: 500, cached_input_tokens: 400, cache_write_tokens: 0, reasoning_tokens: 100 };

describe('chargeNano', () => {
  it('equals the ingress estimate with default rates and multiplier ×1', () => {
    const ingress = costNano(tokens, { input_nano_per_mtok: 150_000_000, output_nano_per_mtok: 600_000_000, cached_input_nano_per_mtok: 75_000_000 });
    expect(chargeNano(tokens, price)).toBe(BigInt(ingress));
  });

  it('prices cache-write and reasoning tokens at their own rates, and adds the request fee', () => {
    const p = { ...price, cache_write_nano_per_mtok: 187_500_000n, reasoning_nano_per_mtok: 1_000_000_000n, request_fee_nano: 7n };
    const t = { ...tokens, cache_write_tokens: 200 };
    // 400 uncached × 0.15 + 400 cached × 0.075 + 200 written × 0.1875 + 400 out × 0.6 + 100 reasoning × 1.0, per 1M, + 7
    const expected = (400n * 150_000_000n + 400n * 75_000_000n + 200n * 187_500_000n + 400n * 600_000_000n + 100n * 1_000_000_000n) / 1_000_000n + 7n;
    expect(chargeNano(t, p)).toBe(expected);
  });

  it('applies the group multiplier exactly, rounding once', () => {
    const base = chargeNano(tokens, price);
    expect(chargeNano(tokens, price, 2_000_000n)).toBe(base * 2n);
    // 1 token at 0.5 nano × 1.5 = 0.75 nano → 1 (half-up once), not round(0.5)=1 × 1.5 = 1.5 → 2
    const tiny = { ...price, input_nano_per_mtok: 500_000n };
    expect(chargeNano({ input_tokens: 1, output_tokens: 0, cached_input_tokens: 0, cache_write_tokens: 0, reasoning_tokens: 0 }, tiny, 1_500_000n)).toBe(1n);
  });

  it('never charges a cached token twice when counts exceed the input', () => {
    const t = { input_tokens: 10, output_tokens: 0, cached_input_tokens: 50, cache_write_tokens: 50, reasoning_tokens: 0 };
    expect(chargeNano(t, price)).toBe((10n * 75_000_000n + 500_000n) / 1_000_000n);
  });
});

describe('multiplier text', () => {
  it.each([
    ['1', 1_000_000n],
    ['1.25', 1_250_000n],
    ['0.000001', 1n],
    ['0', 0n],
  ])('%s → %s ppm', (text, ppm) => {
    expect(parseMultiplier(text)).toBe(ppm);
    expect(parseMultiplier(formatMultiplier(ppm))).toBe(ppm);
  });
  it.each(['-1', '1e3', '0.0000001', 'x', '1001'])('refuses %j', (bad) => expect(parseMultiplier(bad)).toBeUndefined());
});
