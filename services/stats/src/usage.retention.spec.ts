import { describe, expect, it } from 'vitest';
import { expiredPartitions } from './usage.retention';

describe('usage retention', () => {
  it('drops only months entirely older than the retention', () => {
    const now = new Date('2026-11-26T00:00:00Z');
    // 400 days before is 2025-10-22: October 2025 still holds kept days.
    expect(expiredPartitions(['202509', '202510', '202511', '202611', 'junk'], 400, now)).toEqual(['202509']);
    expect(expiredPartitions(['202608', '202609', '202610'], 60, now)).toEqual(['202608']);
    expect(expiredPartitions(['202610'], 30, now)).toEqual([]);
    expect(expiredPartitions(['202611'], 1, now)).toEqual([]);
  });
});
