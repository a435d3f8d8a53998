import { describe, expect, it } from 'vitest';
import { AdminInputError, AdminNotFoundError } from '../admin.commands';
import { bearer, field, toHttpError, toJson } from './http-errors';

describe('admin HTTP helpers', () => {
  it('maps bad input to 400, unknown things to 404 and anything else to a bare 500', () => {
    expect(toHttpError(new AdminInputError('bad')).getStatus()).toBe(400);
    expect(toHttpError(new AdminNotFoundError('unknown account "x"')).getStatus()).toBe(404);
    const internal = toHttpError(new Error('connection to postgres://user:secret@db failed'));
    expect(internal.getStatus()).toBe(500);
    expect(JSON.stringify(internal.getResponse())).not.toContain('secret');
  });

  it('writes bigint money as exact JSON numbers', () => {
    expect(toJson({ a: 9_007_199_254_740_991n, b: -5n, c: 2n ** 63n - 1n })).toEqual({ a: 9_007_199_254_740_991, b: -5, c: '9223372036854775807' });
  });

  it('refuses money as a JSON number (no floats) and accepts integers where allowed', () => {
    expect(() => field({ usd: 0.1 }, 'usd')).toThrow(/decimal USD/);
    expect(field({ rpm: 60 }, 'rpm', { integer: true })).toBe('60');
    expect(() => field({ rpm: 1.5 }, 'rpm', { integer: true })).toThrow(AdminInputError);
  });

  it('reads a bearer token', () => {
    expect(bearer('Bearer abc')).toBe('abc');
    expect(bearer('bearer  abc ')).toBe('abc');
    expect(bearer('Basic abc')).toBeUndefined();
    expect(bearer(undefined)).toBeUndefined();
  });
});
