import { describe, expect, it } from 'vitest';
import type { UsageEventV1 } from '@switchyard/contracts';
import { usageToEntry } from './usage.settlement';

const event: UsageEventV1 = {
  schema: 'usage.v1',
  request_id: 'req-1',
  occurred_at: '2026-11-25T10:00:00.000Z',
  trace_id: 'b'.repeat(32),
  key_id: 'key_1',
  account_id: 'acme',
  model_requested: 'gpt-4o-mini',
  model_served: 'gpt-4o-mini-2024-07-18',
  channel_id: 'fast',
  provider: 'openai',
  route_mode: 'smart',
  stream: true,
  status: 'ok',
  http_status: 200,
  error_class: null,
  attempts: [],
  usage: { input_tokens: 10, output_tokens: 20, cached_input_tokens: 5, reasoning_tokens: 3 },
  usage_estimated: false,
  ttft_ms: 50,
  latency_ms: 400,
  tokens_per_second: 50,
  price: { input_nano_per_mtok: 1, output_nano_per_mtok: 1, cached_input_nano_per_mtok: 1 },
  cost_nano: 9_007_199_254_740_991,
};

describe('usage event → ledger entry', () => {
  it('debits the exact cost, even at the top of the safe-integer range', () => {
    expect(usageToEntry(event)).toEqual({
      request_id: 'req-1',
      kind: 'usage',
      key_id: 'key_1',
      amount_nano: -9_007_199_254_740_991n,
      estimate_nano: 9_007_199_254_740_991n,
      price_id: null,
      price_multiplier_ppm: null,
      model: 'gpt-4o-mini-2024-07-18',
      channel_id: 'fast',
      input_tokens: 10,
      output_tokens: 20,
      cached_input_tokens: 5,
      reasoning_tokens: 3,
      trace_id: 'b'.repeat(32),
      occurred_at: '2026-11-25T10:00:00.000Z',
    });
  });

  it('books a failed request with the requested model and no channel', () => {
    const entry = usageToEntry({ ...event, cost_nano: 0, model_served: '', channel_id: '', status: 'error' });
    expect(entry).toMatchObject({ amount_nano: 0n, model: 'gpt-4o-mini', channel_id: null });
    expect(entry.amount_nano === 0n).toBe(true);
  });

  it("debits billing's charge and keeps ingress's estimate beside it", () => {
    const entry = usageToEntry(event, { amount_nano: 123n, estimate_nano: 9_007_199_254_740_991n, price_id: '7', multiplier_ppm: 1_500_000n });
    expect(entry).toMatchObject({ amount_nano: -123n, estimate_nano: 9_007_199_254_740_991n, price_id: '7', price_multiplier_ppm: 1_500_000n });
  });
});
