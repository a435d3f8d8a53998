import { describe, expect, it } from 'vitest';
import { costNano } from '@switchyard/pricing';
import { settledCostNano, worstCaseNano } from './spend-cost';

const price = { input_nano_per_mtok: 150_000_000, output_nano_per_mtok: 600_000_000, cached_input_nano_per_mtok: 75_000_000 };

describe('spend cost', () => {
  it('worst case: every input token at the input rate plus max_tokens at the output rate, rounded up', () => {
    expect(worstCaseNano(price, 10, 5, 1_000_000)).toBe(4_500n);
    // 1 token at 1 nano-USD per million tokens: 0.000001 nano, held as 1.
    expect(worstCaseNano({ input_nano_per_mtok: 1, output_nano_per_mtok: 0, cached_input_nano_per_mtok: 0 }, 1, 0, 1_000_000)).toBe(1n);
    expect(worstCaseNano(price, 1_000, 500, 1_000_000)).toBe(450_000n);
    expect(worstCaseNano(price, 1_000, 500, 1_250_000)).toBe(562_500n);
  });

  it('settled cost equals the pricing library at ×1 and applies the multiplier with one rounding', () => {
    const usage = { input_tokens: 1_234, output_tokens: 567, cached_input_tokens: 200, reasoning_tokens: 0 };
    expect(settledCostNano(usage, price, 1_000_000)).toBe(BigInt(costNano(usage, price)));
    expect(settledCostNano({ ...usage, cached_input_tokens: 0 }, price, 1_500_000)).toBe(BigInt(Math.round((1_234 * 150 + 567 * 600) * 1.5)));
  });

  it('a real cost never exceeds the worst case of the same tokens', () => {
    for (const [i, o] of [[1, 1], [7, 3], [999, 4_096]] as const) {
      expect(settledCostNano({ input_tokens: i, output_tokens: o, cached_input_tokens: 0, reasoning_tokens: 0 }, price, 1_333_333)).toBeLessThanOrEqual(worstCaseNano(price, i, o, 1_333_333));
    }
  });
});
