import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './circuit-breaker';
import { CooldownBook } from './cooldowns';

const clock = (start = 1_000_000) => {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
};

describe('CircuitBreaker', () => {
  it('opens after 5 consecutive failures by default and stops admitting attempts', () => {
    const b = new CircuitBreaker(clock().now);
    for (let i = 0; i < 4; i++) b.onFailure();
    expect(b.state()).toBe('closed');
    b.onFailure();
    expect(b.state()).toBe('open');
    expect(b.canAttempt()).toBe(false);
    expect(b.tryAcquire()).toBe(false);
    expect(b.snapshot().open_reason).toBe('5 consecutive failures');
  });

  it('a success in between resets the consecutive count', () => {
    const b = new CircuitBreaker(clock().now, { minimumVolume: 100 });
    for (let i = 0; i < 4; i++) b.onFailure();
    b.onSuccess();
    for (let i = 0; i < 4; i++) b.onFailure();
    expect(b.state()).toBe('closed');
  });

  it('opens on the error-rate threshold only once the minimum volume is reached', () => {
    const b = new CircuitBreaker(clock().now, { failureThreshold: 100, errorRateThreshold: 0.5, minimumVolume: 10 });
    // alternating: 50 % errors but only 8 outcomes
    for (let i = 0; i < 4; i++) {
      b.onSuccess();
      b.onFailure();
    }
    expect(b.state()).toBe('closed');
    b.onSuccess();
    b.onFailure(); // 10 outcomes, 5 failures
    expect(b.state()).toBe('open');
    expect(b.snapshot().open_reason).toMatch(/error rate 50% over 10/);
  });

  it('forgets old failures outside the error-rate window', () => {
    const c = clock();
    const b = new CircuitBreaker(c.now, { failureThreshold: 100, minimumVolume: 4, windowMs: 10_000, bucketMs: 1_000 });
    b.onFailure();
    b.onFailure();
    b.onFailure();
    c.advance(20_000);
    b.onSuccess();
    b.onSuccess();
    b.onSuccess();
    b.onFailure();
    expect(b.state()).toBe('closed');
  });

  it('turns half-open after the open timeout (60 s by default) and admits one probe at a time', () => {
    const c = clock();
    const b = new CircuitBreaker(c.now);
    for (let i = 0; i < 5; i++) b.onFailure();
    c.advance(59_999);
    expect(b.state()).toBe('open');
    expect(b.snapshot().half_open_at_ms).toBe(c.now() + 1);
    c.advance(1);
    expect(b.state()).toBe('half_open');
    expect(b.snapshot().probe_available).toBe(true);
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(false);
    expect(b.snapshot().probe_available).toBe(false);
  });

  it('closes after 2 successful probes', () => {
    const c = clock();
    const b = new CircuitBreaker(c.now);
    b.trip(1_000, 'test');
    c.advance(1_000);
    expect(b.tryAcquire()).toBe(true);
    b.onSuccess();
    expect(b.state()).toBe('half_open');
    expect(b.tryAcquire()).toBe(true);
    b.onSuccess();
    expect(b.state()).toBe('closed');
    expect(b.canAttempt()).toBe(true);
  });

  it('reopens on a failed probe and restarts the open timer', () => {
    const c = clock();
    const b = new CircuitBreaker(c.now, { openMs: 10_000 });
    b.trip(10_000, 'test');
    c.advance(10_000);
    b.tryAcquire();
    b.onFailure();
    expect(b.state()).toBe('open');
    expect(b.snapshot().open_reason).toBe('probe failed');
    c.advance(9_999);
    expect(b.state()).toBe('open');
    c.advance(1);
    expect(b.state()).toBe('half_open');
  });

  it('admits several probes when configured, and a released probe frees its slot', () => {
    const c = clock();
    const b = new CircuitBreaker(c.now, { halfOpenMaxProbes: 2 });
    b.trip(0, 'test');
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(false);
    b.release();
    expect(b.tryAcquire()).toBe(true);
  });

  it('can be tripped for a long disable (auth/quota) and closed by an operator', () => {
    const c = clock();
    const b = new CircuitBreaker(c.now);
    b.trip(3_600_000, 'auth');
    c.advance(60_000);
    expect(b.state()).toBe('open');
    expect(b.snapshot().open_reason).toBe('auth');
    b.close();
    expect(b.state()).toBe('closed');
    expect(b.snapshot().consecutive_failures).toBe(0);
  });

  it('while open, admits one early probe every 10 s by default, not before', () => {
    const c = clock();
    const b = new CircuitBreaker(c.now);
    for (let i = 0; i < 5; i++) b.onFailure();
    expect(b.earlyProbeDue()).toBe(false);
    c.advance(9_999);
    expect(b.tryAcquireEarlyProbe()).toBe(false);
    c.advance(1);
    expect(b.snapshot().early_probe_available).toBe(true);
    expect(b.tryAcquireEarlyProbe()).toBe(true);
    // One in flight at a time; the breaker still refuses ordinary attempts.
    expect(b.tryAcquireEarlyProbe()).toBe(false);
    expect(b.snapshot().early_probe_available).toBe(false);
    expect(b.tryAcquire()).toBe(false);
  });

  it('a failed or aborted early probe leaves the breaker open with its timer; the next is due 10 s after the last started', () => {
    const c = clock();
    const b = new CircuitBreaker(c.now);
    b.trip(60_000, 'test');
    c.advance(10_000);
    expect(b.tryAcquireEarlyProbe()).toBe(true);
    c.advance(2_000);
    b.endEarlyProbe('failure');
    expect(b.state()).toBe('open');
    expect(b.snapshot().half_open_at_ms).toBe(1_000_000 + 60_000);
    expect(b.earlyProbeDue()).toBe(false);
    c.advance(8_000);
    expect(b.tryAcquireEarlyProbe()).toBe(true);
    b.endEarlyProbe('none');
    expect(b.state()).toBe('open');
    c.advance(40_000);
    expect(b.state()).toBe('half_open');
  });

  it('a successful early probe half-opens the breaker at once, counted as one of the 2 successes that close it', () => {
    const c = clock();
    const b = new CircuitBreaker(c.now);
    b.trip(60_000, 'test');
    c.advance(10_000);
    expect(b.tryAcquireEarlyProbe()).toBe(true);
    b.endEarlyProbe('success');
    expect(b.state()).toBe('half_open');
    expect(b.snapshot().half_open_successes).toBe(1);
    expect(b.tryAcquire()).toBe(true);
    b.onSuccess();
    expect(b.state()).toBe('closed');
  });

  it('with one success enough, a successful early probe closes the breaker; an outcome without a probe in flight changes nothing', () => {
    const c = clock();
    const b = new CircuitBreaker(c.now, { successThreshold: 1 });
    b.trip(60_000, 'test');
    b.endEarlyProbe('success');
    expect(b.state()).toBe('open');
    c.advance(10_000);
    b.tryAcquireEarlyProbe();
    b.endEarlyProbe('success');
    expect(b.state()).toBe('closed');
  });

  it('early probes can be turned off', () => {
    const c = clock();
    const b = new CircuitBreaker(c.now, { earlyProbeMs: 0 });
    b.trip(60_000, 'test');
    c.advance(59_000);
    expect(b.tryAcquireEarlyProbe()).toBe(false);
    expect(() => new CircuitBreaker(c.now, { earlyProbeMs: -1 })).toThrow(RangeError);
  });

  it('refuses invalid thresholds', () => {
    expect(() => new CircuitBreaker(clock().now, { failureThreshold: 0 })).toThrow(RangeError);
    expect(() => new CircuitBreaker(clock().now, { successThreshold: 1.5 })).toThrow(RangeError);
  });
});

describe('CooldownBook', () => {
  it('skips a channel until its cooldown passes and keeps the longer of two cooldowns', () => {
    const c = clock();
    const book = new CooldownBook(c.now);
    book.coolDown('a', 10_000);
    book.coolDown('a', 2_000);
    expect(book.untilMs('a')).toBe(c.now() + 10_000);
    c.advance(10_000);
    expect(book.untilMs('a')).toBeNull();
  });
  it('ignores zero, negative and NaN durations', () => {
    const book = new CooldownBook(() => 0);
    book.coolDown('a', 0);
    book.coolDown('a', -5);
    book.coolDown('a', Number.NaN);
    expect(book.untilMs('a')).toBeNull();
  });
});
