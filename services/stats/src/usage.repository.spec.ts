import { describe, expect, it } from 'vitest';
import { occurredAtRanges, storedRequestIdsQuery } from './usage.repository';
import { toUsageRow } from './usage.table';
import type { UsageEventV1 } from '@switchyard/contracts';

const row = (request_id: string, occurred_at: string) =>
  toUsageRow({ request_id, occurred_at, usage: {}, price: {}, attempts: [] } as unknown as UsageEventV1, '2026-11-26 00:00:00');

describe('occurredAtRanges', () => {
  it('covers the batch with its own seconds, merged while under a minute apart', () => {
    const rows = [
      row('a', '2026-11-26T04:00:02.100Z'),
      row('b', '2026-11-26T04:00:01.900Z'),
      row('c', '2026-11-26T04:00:59.000Z'),
      // An hour-old redelivery gets its own range instead of stretching the first one.
      row('d', '2026-11-26T03:00:00.000Z'),
      row('e', '2026-11-26T04:02:30.000Z'),
    ];
    expect(occurredAtRanges(rows)).toEqual([
      ['2026-11-26 03:00:00', '2026-11-26 03:00:00'],
      ['2026-11-26 04:00:01', '2026-11-26 04:00:59'],
      ['2026-11-26 04:02:30', '2026-11-26 04:02:30'],
    ]);
  });

  it('merges across midnight by time, not by text', () => {
    expect(occurredAtRanges([row('a', '2026-11-26T23:59:59.000Z'), row('b', '2026-11-27T00:00:10.000Z')])).toEqual([
      ['2026-11-26 23:59:59', '2026-11-27 00:00:10'],
    ]);
  });
});

describe('storedRequestIdsQuery', () => {
  it('bounds the read by the ranges and escapes every id', () => {
    const q = storedRequestIdsQuery([row("x'); DROP TABLE usage_events; --", '2026-11-26T04:00:01.000Z'), row('y', '2026-11-26T04:00:01.500Z')]);
    expect(q).toContain("occurred_at >= '2026-11-26 04:00:01' AND occurred_at <= '2026-11-26 04:00:01'");
    expect(q).toContain("request_id IN ('x\\'); DROP TABLE usage_events; --', 'y')");
  });
});
