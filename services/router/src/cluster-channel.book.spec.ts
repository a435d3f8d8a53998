import { describe, expect, it } from 'vitest';
import type { UsageAttempt } from '@switchyard/contracts';
import { attemptOutcomes, ClusterChannelBook, type ObservedRequest } from './cluster-channel.book';

const T0 = Date.UTC(2026, 10, 26, 1, 0, 0);

const attempt = (channel_id: string, over: Partial<UsageAttempt> = {}): UsageAttempt => ({
  channel_id,
  provider: 'openai',
  status: 200,
  error_class: null,
  started_after_ms: 0,
  latency_ms: 1000,
  ttft_ms: 200,
  ...over,
});

const request = (id: string, over: Partial<ObservedRequest> = {}): ObservedRequest => ({
  request_id: id,
  model_requested: 'gpt-4o-mini',
  channel_id: 'a',
  occurred_at_ms: T0,
  output_tokens: 80,
  attempts: [attempt('a')],
  ...over,
});

describe('attemptOutcomes', () => {
  it('times each attempt at its end and gives the output tokens only to the attempt that answered', () => {
    const out = attemptOutcomes(
      request('r1', {
        channel_id: 'b',
        attempts: [attempt('a', { status: 500, error_class: 'transient', latency_ms: 300, ttft_ms: null }), attempt('b', { started_after_ms: 400, latency_ms: 900 })],
      }),
    );
    expect(out.map((o) => o.channel_id)).toEqual(['a', 'b']);
    expect(out[0]!.outcome).toMatchObject({ status: 500, error_class: 'transient', at_ms: T0 + 300, output_tokens: undefined });
    expect(out[1]!.outcome).toMatchObject({ status: 200, error_class: null, at_ms: T0 + 1300, output_tokens: 80, ttft_ms: 200 });
  });

  it('gives no tokens to a race loser on another channel', () => {
    const out = attemptOutcomes(request('r', { attempts: [attempt('a'), attempt('b', { status: 0, error_class: 'cancelled' })] }));
    expect(out[0]!.outcome.output_tokens).toBe(80);
    expect(out[1]!.outcome.output_tokens).toBeUndefined();
  });
});

describe('ClusterChannelBook', () => {
  const book = (now = T0 + 2_000) => new ClusterChannelBook({ maxAgeMs: 15 * 60_000, maxRemembered: 3 }, () => now);

  it('keeps live stats per (channel, model) from every attempt, listed in order', () => {
    const b = book();
    expect(b.apply(request('r1'))).toBe('applied');
    expect(b.apply(request('r2', { channel_id: 'b', attempts: [attempt('b', { status: 429, error_class: 'rate_limit', ttft_ms: null }), attempt('a')] }))).toBe('applied');
    expect(b.apply(request('r3', { model_requested: 'gpt-4o' }))).toBe('applied');
    const list = b.list();
    expect(list.map((e) => [e.channel_id, e.model])).toEqual([
      ['a', 'gpt-4o'],
      ['a', 'gpt-4o-mini'],
      ['b', 'gpt-4o-mini'],
    ]);
    const a = b.peek('a', 'gpt-4o-mini')!;
    expect(a.requests).toBe(2);
    expect(a.window_success_rate).toBe(1);
    expect(a.ema_ttft_ms).toBe(200);
    // 80 tokens over 800 ms of generation.
    expect(a.ema_tokens_per_second).toBe(100);
    const bStats = b.peek('b', 'gpt-4o-mini')!;
    expect(bStats.failures).toBe(1);
    expect(bStats.window_success_rate).toBe(0);
    expect(bStats.last_error_class).toBe('rate_limit');
    expect(b.changes).toBe(3);
  });

  it('counts a model variant (o4-mini-high, routed by o4-mini) under its base once the catalog is known', () => {
    const b = book();
    b.apply(request('r0', { model_requested: 'o4-mini-high' }));
    expect(b.peek('a', 'o4-mini-high')?.requests).toBe(1); // no catalog yet: as requested
    b.setCatalogModels(['o4-mini', 'o3-mini-high', 'gpt-4o-mini']);
    b.apply(request('r1', { model_requested: 'o4-mini-high' }));
    b.apply(request('r2', { model_requested: 'o4-mini-thinking-2048' }));
    b.apply(request('r3', { model_requested: 'o3-mini-high' })); // a catalog model of its own
    expect(b.peek('a', 'o4-mini')?.requests).toBe(2);
    expect(b.peek('a', 'o3-mini-high')?.requests).toBe(1);
    expect(b.routedModel('unknown-model-high')).toBe('unknown-model-high');
  });

  it('applies a request once: a redelivery or a replayed row is a duplicate', () => {
    const b = book();
    b.apply(request('r1'));
    expect(b.apply(request('r1'))).toBe('duplicate');
    expect(b.peek('a', 'gpt-4o-mini')!.requests).toBe(1);
    expect(b.changes).toBe(1);
  });

  it('refuses requests older than its horizon', () => {
    const b = book(T0 + 16 * 60_000);
    expect(b.apply(request('old'))).toBe('stale');
    expect(b.list()).toEqual([]);
  });

  it('remembers a bounded number of request ids', () => {
    const b = book();
    for (const id of ['r1', 'r2', 'r3', 'r4']) b.apply(request(id));
    // r1 was forgotten to stay within 3 ids; r4 is still known.
    expect(b.apply(request('r4'))).toBe('duplicate');
    expect(b.apply(request('r1'))).toBe('applied');
  });
});
