import { describe, expect, it } from 'vitest';
import { backoffDelayMs } from './backoff';

describe('backoffDelayMs', () => {
  const mid = () => 0.5; // no jitter
  it('doubles from 100 ms and caps at 5 s', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 10].map((n) => backoffDelayMs(n, mid))).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000]);
  });
  it('spreads ±10 % and never exceeds the cap', () => {
    expect(backoffDelayMs(0, () => 0)).toBe(90);
    expect(backoffDelayMs(0, () => 0.999999)).toBe(110);
    expect(backoffDelayMs(20, () => 0.999999)).toBe(5000);
    expect(backoffDelayMs(20, () => 0)).toBe(4500);
  });
  it('jitter covers the range evenly', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    const xs = Array.from({ length: 2000 }, () => backoffDelayMs(2, rnd));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(360);
    expect(Math.max(...xs)).toBeLessThanOrEqual(440);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean).toBeGreaterThan(395);
    expect(mean).toBeLessThan(405);
  });
  it('treats NaN/negative retry numbers and a broken random() as safe values', () => {
    expect(backoffDelayMs(Number.NaN, mid)).toBe(100);
    expect(backoffDelayMs(-3, mid)).toBe(100);
    expect(backoffDelayMs(0, () => Number.NaN)).toBe(100);
    expect(backoffDelayMs(1, () => 7)).toBe(220);
  });
  it('honours custom settings', () => {
    expect(backoffDelayMs(3, mid, { initialMs: 50, factor: 3, maxMs: 10_000, jitter: 0 })).toBe(1350);
    expect(backoffDelayMs(1000, mid, { factor: 10 })).toBe(5000);
  });
});
