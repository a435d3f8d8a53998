import { describe, expect, it } from 'vitest';
import { compareVersions, statementFor } from './migrations';

describe('server-version-dependent migration statements', () => {
  it('orders dotted versions numerically', () => {
    expect(compareVersions('18.16.1', '19.6')).toBe(-1);
    expect(compareVersions('19.6', '19.6.0.0')).toBe(0);
    expect(compareVersions('24.8.4.13', '19.6')).toBe(1);
    expect(compareVersions('19.10', '19.9')).toBe(1);
  });

  it('runs the statement on new enough servers and the fallback (or nothing) on older ones', () => {
    const ttl = { sql: 'ALTER TABLE t MODIFY TTL d + INTERVAL 400 DAY', minServerVersion: '19.6' };
    expect(statementFor(ttl, '24.8.4.13')).toBe(ttl.sql);
    expect(statementFor(ttl, '18.16.1')).toBeUndefined();
    expect(statementFor({ ...ttl, otherwise: 'SELECT 1' }, '18.16.1')).toBe('SELECT 1');
    expect(statementFor('SELECT 2', undefined)).toBe('SELECT 2');
    expect(() => statementFor(ttl, undefined)).toThrow(/server version/);
  });
});
