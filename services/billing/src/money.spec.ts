import { describe, expect, it } from 'vitest';
import { countFromDb, nanoFromDb, nanoToSafeNumber } from './money';

describe('money from the database', () => {
  it('reads BIGINT strings exactly, beyond the float range', () => {
    expect(nanoFromDb('9223372036854775807')).toBe(9_223_372_036_854_775_807n);
    expect(nanoFromDb('-450000')).toBe(-450_000n);
    expect(nanoFromDb(42)).toBe(42n);
    expect(nanoFromDb(7n)).toBe(7n);
  });

  it.each(['1.5', '1e3', '', ' 1', 'abc'])('refuses %j', (bad) => {
    expect(() => nanoFromDb(bad)).toThrow(RangeError);
  });

  it('refuses a float', () => {
    expect(() => nanoFromDb(0.1)).toThrow(RangeError);
  });

  it('converts to a JSON number only when exact', () => {
    expect(nanoToSafeNumber(150_000_000n)).toBe(150_000_000);
    expect(nanoToSafeNumber(-BigInt(Number.MAX_SAFE_INTEGER))).toBe(-Number.MAX_SAFE_INTEGER);
    expect(() => nanoToSafeNumber(BigInt(Number.MAX_SAFE_INTEGER) + 1n)).toThrow(RangeError);
    expect(countFromDb('1200')).toBe(1200);
  });
});
