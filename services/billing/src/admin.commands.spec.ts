import { describe, expect, it } from 'vitest';
import { AdminInputError, parseModelSpec, parseUsd } from './admin.commands';
import { toJson } from './admin.program';

describe('operator money input', () => {
  it.each([
    ['0.15', 150_000_000n],
    ['100.00', 100_000_000_000n],
    ['0.000000001', 1n],
    ['0', 0n],
  ])('reads %s USD exactly', (usd, nano) => {
    expect(parseUsd(usd, '--usd')).toBe(nano);
  });

  it.each(['-1', '0.1234567891', '1e3', 'ten', '', '1,5'])('refuses %j with the flag name', (bad) => {
    expect(() => parseUsd(bad, '--usd')).toThrow(AdminInputError);
    expect(() => parseUsd(bad, '--usd')).toThrow(/--usd/);
  });

  it('refuses zero where a positive amount is needed, and amounts over a bound', () => {
    expect(() => parseUsd('0.00', '--usd', { positive: true })).toThrow(/greater than 0/);
    expect(() => parseUsd('10', '--usd', { max: 9_999_999_999n })).toThrow(/too large/);
  });

  it('prints bigint money as exact decimal strings in JSON', () => {
    expect(toJson({ balance_nano: 9_223_372_036_854_775_807n })).toBe('{"balance_nano":"9223372036854775807"}');
  });
});

describe('--model public[=upstream]', () => {
  it('defaults the upstream id to the public one', () => {
    expect(parseModelSpec('gpt-4o-mini')).toEqual({ model: 'gpt-4o-mini', upstream_model: 'gpt-4o-mini' });
    expect(parseModelSpec('gpt-4o=gpt-4o-2024-08-06')).toEqual({ model: 'gpt-4o', upstream_model: 'gpt-4o-2024-08-06' });
    expect(parseModelSpec('sonnet=projects/p/models/claude=v2')).toEqual({ model: 'sonnet', upstream_model: 'projects/p/models/claude=v2' });
  });
  it.each(['', '=x', 'a=', 'has space', 'a=has space'])('refuses %j', (bad) => {
    expect(() => parseModelSpec(bad)).toThrow(AdminInputError);
  });
});
