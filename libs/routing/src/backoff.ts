/** Exponential backoff between fallback attempts. */
export interface BackoffConfig {
  initialMs: number;
  factor: number;
  maxMs: number;
  /** Relative jitter: 0.1 spreads each delay uniformly over ±10 %. */
  jitter: number;
}

export const DEFAULT_BACKOFF: Readonly<BackoffConfig> = Object.freeze({ initialMs: 100, factor: 2, maxMs: 5_000, jitter: 0.1 });

/**
 * Delay before retry number `retry` (0 = the first retry):
 * `min(maxMs, initialMs·factor^retry · (1 + jitter·u))`, u uniform in [-1, 1)
 * from `random()`. The cap applies after the jitter, so `maxMs` is a hard
 * ceiling; below the cap delays spread ±jitter. Bad inputs (NaN, negative)
 * are treated as 0 and a `random()` outside [0, 1) is clamped.
 */
export function backoffDelayMs(retry: number, random: () => number, config: Partial<BackoffConfig> = {}): number {
  const c = { ...DEFAULT_BACKOFF, ...config };
  const n = Number.isFinite(retry) && retry > 0 ? Math.floor(retry) : 0;
  const initial = Number.isFinite(c.initialMs) && c.initialMs > 0 ? c.initialMs : 0;
  const factor = Number.isFinite(c.factor) && c.factor >= 1 ? c.factor : 1;
  const max = Number.isFinite(c.maxMs) && c.maxMs >= 0 ? c.maxMs : 0;
  const jitter = Number.isFinite(c.jitter) ? Math.min(1, Math.max(0, c.jitter)) : 0;
  const base = Math.min(max, initial * Math.pow(factor, Math.min(n, 64)));
  const r = random();
  const u = Number.isFinite(r) ? Math.min(1, Math.max(0, r)) * 2 - 1 : 0;
  return Math.round(Math.min(max, Math.max(0, base * (1 + jitter * u))));
}
