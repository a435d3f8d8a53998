import { describe, expect, it } from 'vitest';
import { rebuildQuery, rowToRequest, type RebuildRow } from './state.rebuild';

const row = (over: Partial<RebuildRow> = {}): RebuildRow => ({
  request_id: 'r1',
  model_requested: 'gpt-4o-mini',
  channel_id: 'a',
  occurred_at_s: 1_800_000_000,
  occurred_at_ms: 250,
  output_tokens: 10,
  attempts: JSON.stringify([{ channel_id: 'a', provider: 'openai', status: 200, error_class: null, started_after_ms: 0, latency_ms: 100, ttft_ms: 20 }]),
  ...over,
});

describe('rebuild from ClickHouse', () => {
  it('queries the window with escaped literals, newest first and bounded', () => {
    const q = rebuildQuery(new Date('2026-11-26T01:02:03.456Z'), 500).text;
    expect(q).toContain("event_date >= '2026-11-26'");
    expect(q).toContain("occurred_at >= '2026-11-26 01:02:03'");
    expect(q).toContain('FROM `usage_events`');
    expect(q).toMatch(/ORDER BY occurred_at DESC, occurred_at_ms DESC\s+LIMIT 500$/);
    expect(() => rebuildQuery(new Date(), 0)).toThrow(RangeError);
  });

  it('turns a row into a request with its millisecond time and attempts', () => {
    const r = rowToRequest(row());
    expect(r.ok && r.value).toMatchObject({ request_id: 'r1', occurred_at_ms: 1_800_000_000_250, output_tokens: 10 });
    expect(r.ok && r.value.attempts[0]!.channel_id).toBe('a');
  });

  it('skips a row whose attempts are not attempts', () => {
    expect(rowToRequest(row({ attempts: 'nope' })).ok).toBe(false);
    expect(rowToRequest(row({ attempts: '[{"channel_id":""}]' })).ok).toBe(false);
  });
});
