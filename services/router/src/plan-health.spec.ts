import { describe, expect, it } from 'vitest';
import { channelHealthSchema, routingPlanV1Schema, type RoutingPlanV1 } from '@switchyard/contracts';
import type { ChannelStats } from '@switchyard/routing';
import { healthSnapshot, sameHealth, sameRouting, stripHealth, withHealth } from './plan-health';

const price = { input_nano_per_mtok: 1, output_nano_per_mtok: 2, cached_input_nano_per_mtok: 0 };
const candidate = (id: string, priority: number) => ({
  channel_id: id,
  provider: 'openai' as const,
  base_url: `http://${id}.example/v1`,
  upstream_model: 'm',
  priority,
  weight: 1,
  price,
});
const plan: RoutingPlanV1 = {
  schema: 'plan.v1',
  version: 1,
  generated_at: '2026-11-26T01:00:00.000Z',
  models: { m: { candidates: [candidate('a', 1), candidate('b', 2)] } },
};

const stats = (over: Partial<ChannelStats> = {}): ChannelStats => ({
  requests: 3,
  successes: 2,
  failures: 1,
  neutral: 0,
  consecutive_failures: 0,
  ema_ttft_ms: 123.456789,
  ema_tokens_per_second: 50.123456,
  ema_latency_ms: 900.04,
  p95_ttft_ms: 150,
  recent_mean_ttft_ms: 120,
  p95_latency_ms: 1000,
  recent_mean_latency_ms: 950,
  window_successes: 2,
  window_failures: 1,
  window_success_rate: 2 / 3,
  last_success_at_ms: 1_000,
  last_failure_at_ms: 900,
  last_error_class: 'transient',
  ...over,
});

describe('plan health', () => {
  it('rounds the snapshot and keeps the ChannelStats shape valid for the contract', () => {
    const h = healthSnapshot(stats());
    expect(h.ema_ttft_ms).toBe(123.5);
    expect(h.ema_tokens_per_second).toBe(50.12);
    expect(h.window_success_rate).toBe(0.6667);
    expect(channelHealthSchema.parse(h)).toEqual(h);
  });

  it('adds health only to observed candidates, and the plan stays a valid plan.v1', () => {
    const p = withHealth(plan, (ch) => (ch === 'a' ? stats() : null));
    expect(p.models.m!.candidates[0]!.health?.requests).toBe(3);
    expect('health' in p.models.m!.candidates[1]!).toBe(false);
    expect(routingPlanV1Schema.parse(p)).toEqual(p);
    expect(stripHealth(p)).toEqual(plan);
  });

  it('tells a health change from a routing change', () => {
    const before = withHealth(plan, () => stats());
    const healthier = withHealth(plan, () => stats({ window_success_rate: 1, failures: 0 }));
    expect(sameRouting(before, healthier)).toBe(true);
    expect(sameHealth(before, healthier)).toBe(false);
    expect(sameHealth(before, withHealth(plan, () => stats()))).toBe(true);
    const reordered: RoutingPlanV1 = { ...plan, models: { m: { candidates: [candidate('b', 1), candidate('a', 2)] } } };
    expect(sameRouting(before, withHealth(reordered, () => stats()))).toBe(false);
    expect(sameRouting(undefined, plan)).toBe(false);
  });
});
