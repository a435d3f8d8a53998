import { describe, expect, it } from 'vitest';
import { costNano, nanoToUsd, usdToNano } from './index';

describe('usdToNano', () => {
  it.each([
    ['0.15', 150_000_000n],
    ['100.00', 100_000_000_000n],
    ['0.000000001', 1n],
    ['2', 2_000_000_000n],
    [' 0.6 ', 600_000_000n],
  ])('converts %s USD exactly', (usd, nano) => {
    expect(usdToNano(usd)).toBe(nano);
  });

  it.each(['-1', '1e3', '0.0000000001', 'abc', '', '1.2.3'])('refuses %j', (bad) => {
    expect(() => usdToNano(bad)).toThrow(RangeError);
  });

  it('round-trips through nanoToUsd', () => {
    expect(nanoToUsd(usdToNano('0.075'))).toBe('0.075');
    expect(nanoToUsd(usdToNano('100'))).toBe('100.00');
    expect(nanoToUsd(-1500000000n)).toBe('-1.50');
  });
});

describe('costNano', () => {
  const prices = { input_nano_per_mtok: 150_000_000, output_nano_per_mtok: 600_000_000, cached_input_nano_per_mtok: 75_000_000 };

  it('prices input and output per million tokens', () => {
    // 1000 in × $0.15/M + 500 out × $0.60/M = $0.00015 + $0.0003
    expect(costNano({ input_tokens: 1000, output_tokens: 500, cached_input_tokens: 0 }, prices)).toBe(450_000);
  });

  it('prices cached input at the cached rate, not twice', () => {
    expect(costNano({ input_tokens: 1000, output_tokens: 0, cached_input_tokens: 400 }, prices)).toBe(
      (600 * 150_000_000 + 400 * 75_000_000) / 1_000_000,
    );
  });

  it('prices cache-write input at the cache-write rate (input rate when none is set), apart from cache reads', () => {
    const tokens = { input_tokens: 1000, output_tokens: 0, cached_input_tokens: 300, cache_write_input_tokens: 500 };
    expect(costNano(tokens, { ...prices, cache_write_nano_per_mtok: 187_500_000 })).toBe((200 * 150_000_000 + 300 * 75_000_000 + 500 * 187_500_000) / 1_000_000);
    expect(costNano(tokens, prices)).toBe((700 * 150_000_000 + 300 * 75_000_000) / 1_000_000);
    // Never more cache-write than the input left after cache reads.
    expect(costNano({ ...tokens, cache_write_input_tokens: 5000 }, { ...prices, cache_write_nano_per_mtok: 187_500_000 })).toBe((300 * 75_000_000 + 700 * 187_500_000) / 1_000_000);
  });

  it('rounds half up once on the total', () => {
    expect(costNano({ input_tokens: 1, output_tokens: 0, cached_input_tokens: 0 }, { ...prices, input_nano_per_mtok: 500_000 })).toBe(1);
    expect(costNano({ input_tokens: 1, output_tokens: 0, cached_input_tokens: 0 }, { ...prices, input_nano_per_mtok: 499_999 })).toBe(0);
  });
});
