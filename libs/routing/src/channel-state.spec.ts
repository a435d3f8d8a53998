import { describe, expect, it } from 'vitest';
import { ChannelState, ChannelStateRegistry, outcomeFromAttempt } from './channel-state';
import { SlidingWindowCounter } from './sliding-window';

const clock = (start = 1_000_000) => {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
};
const ok = (ttft: number, latency: number, out = 100) => ({ status: 200, error_class: null, ttft_ms: ttft, latency_ms: latency, output_tokens: out });
const fail = (cls: 'transient' | 'timeout' | 'permanent' | 'client_abort' | 'rate_limit' = 'transient', latency = 50) => ({
  status: cls === 'permanent' ? 400 : 503,
  error_class: cls,
  ttft_ms: null,
  latency_ms: latency,
});

describe('ChannelState', () => {
  it('starts with no data rather than zeros', () => {
    const s = new ChannelState(clock().now).snapshot();
    expect(s.ema_ttft_ms).toBeNull();
    expect(s.ema_tokens_per_second).toBeNull();
    expect(s.window_success_rate).toBeNull();
    expect(s.p95_ttft_ms).toBeNull();
    expect(s.requests).toBe(0);
  });

  it('takes the first sample as is, then moves by alpha toward new samples', () => {
    const s = new ChannelState(clock().now, { alpha: 0.5 });
    s.observe(ok(100, 1100));
    expect(s.snapshot().ema_ttft_ms).toBe(100);
    s.observe(ok(300, 1300));
    expect(s.snapshot().ema_ttft_ms).toBe(200);
    expect(s.snapshot().ema_latency_ms).toBe(1200);
  });

  it('derives tokens per second from output tokens over the generation time after the first token', () => {
    const s = new ChannelState(clock().now);
    s.observe(ok(200, 1200, 50)); // 50 tokens in 1 s
    expect(s.snapshot().ema_tokens_per_second).toBeCloseTo(50);
  });

  it('ignores tokens/s when the generation time is zero or output is missing (no Infinity, no NaN)', () => {
    const s = new ChannelState(clock().now);
    s.observe(ok(500, 500, 10));
    s.observe({ status: 200, error_class: null, ttft_ms: 100, latency_ms: 200 });
    s.observe({ status: 200, error_class: null, ttft_ms: Number.NaN, latency_ms: Number.NaN, output_tokens: 5 });
    const snap = s.snapshot();
    expect(snap.ema_tokens_per_second).toBeNull();
    expect(Number.isNaN(snap.ema_ttft_ms)).toBe(false);
  });

  it('computes the windowed success rate and forgets outcomes older than the window', () => {
    const c = clock();
    const s = new ChannelState(c.now, { windowMs: 60_000, bucketMs: 5_000 });
    for (let i = 0; i < 3; i++) s.observe(fail());
    c.advance(30_000);
    s.observe(ok(100, 200));
    expect(s.snapshot().window_success_rate).toBeCloseTo(0.25);
    c.advance(35_000); // the failures are now 65 s old
    expect(s.snapshot().window_success_rate).toBe(1);
    c.advance(60_000);
    expect(s.snapshot().window_success_rate).toBeNull();
    expect(s.snapshot().failures).toBe(3); // lifetime counters stay
  });

  it('does not hold client-caused failures against the channel', () => {
    const s = new ChannelState(clock().now);
    s.observe(ok(100, 200));
    s.observe(fail('permanent'));
    s.observe(fail('client_abort'));
    const snap = s.snapshot();
    expect(snap.window_success_rate).toBe(1);
    expect(snap.neutral).toBe(2);
    expect(snap.requests).toBe(3);
    expect(snap.consecutive_failures).toBe(0);
  });

  it('counts consecutive failures and resets them on success', () => {
    const s = new ChannelState(clock().now);
    s.observe(fail());
    s.observe(fail('rate_limit'));
    expect(s.snapshot().consecutive_failures).toBe(2);
    expect(s.snapshot().last_error_class).toBe('rate_limit');
    s.observe(ok(100, 200));
    expect(s.snapshot().consecutive_failures).toBe(0);
  });

  it('estimates p95 TTFT over the recent samples and follows a change within the sample window', () => {
    const s = new ChannelState(clock().now, { ttftSamples: 20 });
    for (let i = 1; i <= 20; i++) s.observe(ok(i * 10, i * 10 + 100));
    expect(s.snapshot().p95_ttft_ms).toBe(190);
    for (let i = 0; i < 20; i++) s.observe(ok(1000, 1100));
    expect(s.snapshot().p95_ttft_ms).toBe(1000);
  });

  it('reports recent mean and p95 of latency and TTFT for the operator view', () => {
    const s = new ChannelState(clock().now);
    for (let i = 1; i <= 10; i++) s.observe(ok(i * 10, i * 100));
    const snap = s.snapshot();
    expect(snap.recent_mean_latency_ms).toBe(550);
    expect(snap.p95_latency_ms).toBe(1000);
    expect(snap.recent_mean_ttft_ms).toBe(55);
    expect(snap.p95_ttft_ms).toBe(100);
  });

  it('treats a timeout as a latency signal so a hanging channel looks slow', () => {
    const s = new ChannelState(clock().now);
    s.observe(ok(100, 200));
    s.observe(fail('timeout', 30_000));
    expect(s.snapshot().ema_ttft_ms!).toBeGreaterThan(100);
    expect(s.snapshot().p95_ttft_ms).toBe(30_000);
  });

  it('replays past outcomes at their own time (rebuild after restart)', () => {
    const c = clock(10_000_000);
    const s = new ChannelState(c.now);
    s.observe({ ...fail(), at_ms: c.now() - 120_000 }); // outside the window: EMA/counters only
    s.observe({ ...ok(100, 200), at_ms: c.now() - 10_000 });
    const snap = s.snapshot();
    expect(snap.window_failures).toBe(0);
    expect(snap.window_successes).toBe(1);
    expect(snap.failures).toBe(1);
  });

  it('rejects a nonsensical alpha', () => {
    expect(() => new ChannelState(clock().now, { alpha: 0 })).toThrow(RangeError);
    expect(() => new ChannelState(clock().now, { alpha: 1.5 })).toThrow(RangeError);
  });
});

describe('ChannelStateRegistry', () => {
  it('keeps one state per (channel, model) and builds outcomes from usage attempts', () => {
    const c = clock();
    const r = new ChannelStateRegistry(c.now);
    r.observe(
      'a',
      'm1',
      outcomeFromAttempt({ channel_id: 'a', provider: 'openai', status: 200, error_class: null, started_after_ms: 0, latency_ms: 1100, ttft_ms: 100 }, c.now(), 100),
    );
    expect(r.peek('a', 'm1')!.ema_tokens_per_second).toBeCloseTo(100);
    expect(r.peek('a', 'm2')).toBeNull();
    expect(r.peek('b', 'm1')).toBeNull();
  });
});

describe('SlidingWindowCounter', () => {
  it('reuses buckets across epochs without leaking old counts', () => {
    const w = new SlidingWindowCounter(10_000, 1_000);
    w.record(false, 0, 0);
    w.record(true, 10_500, 10_500); // same ring slot as epoch 0, a new epoch
    expect(w.counts(10_500)).toEqual({ successes: 1, failures: 0 });
  });
  it('ignores future timestamps', () => {
    const w = new SlidingWindowCounter(10_000, 1_000);
    w.record(true, 5_000, 1_000);
    expect(w.counts(1_000)).toEqual({ successes: 0, failures: 0 });
  });
  it('refuses a window shorter than a bucket', () => expect(() => new SlidingWindowCounter(10, 100)).toThrow(RangeError));
});
