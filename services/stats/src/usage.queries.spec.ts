import { describe, expect, it } from 'vitest';
import { parseSummaryParams, summaryWhere } from './usage.queries';

const now = new Date('2025-03-01T12:00:00.250Z');

describe('summary parameters', () => {
  it('default to the hour before now', () => {
    expect(parseSummaryParams({}, now)).toEqual({
      ok: true,
      value: { from: new Date('2025-03-01T11:00:00.250Z'), to: now, channelId: undefined, model: undefined, keyId: undefined, accountId: undefined },
    });
  });

  it('read filters and ISO times with offsets', () => {
    const r = parseSummaryParams(
      { channel_id: 'c', model: 'm', key_id: 'k', account_id: 'a', from: '2025-03-01T10:00:00+01:00', to: '2025-03-01T10:30:00Z' },
      now,
    );
    expect(r).toEqual({
      ok: true,
      value: { channelId: 'c', model: 'm', keyId: 'k', accountId: 'a', from: new Date('2025-03-01T09:00:00Z'), to: new Date('2025-03-01T10:30:00Z') },
    });
  });

  it.each([
    ['a date without time', { from: '2025-03-01' }, 'from'],
    ['a bare word', { to: 'now' }, 'to'],
    ['a repeated parameter', { channel_id: ['a', 'b'] }, 'channel_id'],
    ['an unknown parameter', { limit: '5' }, 'limit'],
    ['an empty value', { model: '' }, 'model'],
    ['an empty window', { from: '2025-03-01T10:00:00Z', to: '2025-03-01T10:00:00Z' }, 'from'],
  ])('refuse %s, naming the parameter', (_name, query, param) => {
    const r = parseSummaryParams(query, now);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.param).toBe(param);
      expect(r.message).toContain(param);
    }
  });
});

describe('summary WHERE clause', () => {
  it('prunes by day and second, is exact to the millisecond and escapes every filter', () => {
    const where = summaryWhere({
      from: new Date('2025-02-28T23:59:59.900Z'),
      to: new Date('2025-03-01T00:00:01.100Z'),
      channelId: "c'1",
      accountId: 'a\\b',
    }).text;
    expect(where).toContain("event_date >= '2025-02-28' AND event_date <= '2025-03-01'");
    expect(where).toContain("occurred_at >= '2025-02-28 23:59:59' AND occurred_at <= '2025-03-01 00:00:01'");
    expect(where).toContain('occurred_at_ms) >= 1740787199900 AND');
    expect(where).toContain('occurred_at_ms) < 1740787201100');
    expect(where).toContain("channel_id = 'c\\'1'");
    expect(where).toContain("account_id = 'a\\\\b'");
    expect(where).not.toContain('model_requested');
  });
});
