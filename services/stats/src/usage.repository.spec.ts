import { describe, expect, it } from 'vitest';
import { MAX_CHECK_RANGES, occurredAtRanges, storedRequestIdsQuery } from './usage.repository';
import { toUsageRow } from './usage.table';
import type { UsageEventV1 } from '@switchyard/contracts';

const row = (request_id: string, occurred_at: string) =>
  toUsageRow({ request_id, occurred_at, usage: {}, price: {}, attempts: [] } as unknown as UsageEventV1, '2026-11-26 00:00:00');

describe('occurredAtRanges', () => {
  it('covers the batch with its own seconds, consecutive seconds joined', () => {
    const rows = [
      row('a', '2026-11-26T04:00:02.100Z'),
      row('b', '2026-11-26T04:00:01.900Z'),
      row('c', '2026-11-26T04:00:03.000Z'),
      // A redelivery from an hour before gets its own range instead of stretching the first one.
      row('d', '2026-11-26T03:00:00.000Z'),
      row('e', '2026-11-26T04:00:05.000Z'),
    ];
    expect(occurredAtRanges(rows)).toEqual([
      ['2026-11-26 03:00:00', '2026-11-26 03:00:00'],
      ['2026-11-26 04:00:01', '2026-11-26 04:00:03'],
      ['2026-11-26 04:00:05', '2026-11-26 04:00:05'],
    ]);
  });

  it('joins seconds across midnight by time, not by text', () => {
    expect(occurredAtRanges([row('a', '2026-11-26T23:59:59.000Z'), row('b', '2026-11-27T00:00:00.000Z')])).toEqual([
      ['2026-11-26 23:59:59', '2026-11-27 00:00:00'],
    ]);
  });

  it(`joins the closest ranges when there are more than ${MAX_CHECK_RANGES}, keeping every second covered`, () => {
    // 40 isolated seconds, 10 s apart, and one far away.
    const base = Date.parse('2026-11-26T04:00:00.000Z');
    const rows = Array.from({ length: 40 }, (_, i) => row(`r${i}`, new Date(base + i * 10_000 + (i % 7) * 1000).toISOString()));
    rows.push(row('far', '2026-11-25T12:00:00.000Z'));
    const ranges = occurredAtRanges(rows);
    expect(ranges).toHaveLength(MAX_CHECK_RANGES);
    expect(ranges[0]).toEqual(['2026-11-25 12:00:00', '2026-11-25 12:00:00']);
    for (const r of rows) expect(ranges.some(([from, to]) => from <= r.occurred_at && r.occurred_at <= to)).toBe(true);
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]![0] > ranges[i - 1]![1]).toBe(true);
  });
});

describe('storedRequestIdsQuery', () => {
  it('bounds the read by the ranges and escapes every id', () => {
    const q = storedRequestIdsQuery([row("x'); DROP TABLE usage_events; --", '2026-11-26T04:00:01.000Z'), row('y', '2026-11-26T04:00:01.500Z')]);
    expect(q).toContain("occurred_at >= '2026-11-26 04:00:01' AND occurred_at <= '2026-11-26 04:00:01'");
    expect(q).toContain("request_id IN ('x\\'); DROP TABLE usage_events; --', 'y')");
  });
});
