import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { apiKeyPrefix, checkApiKeyMaterial, generateApiKey, hashApiKey, newKeyId, parseModelGlobs, randomBase62 } from './api-key';

describe('API key material', () => {
  it('is sk-sy- followed by 40 base62 characters', () => {
    const key = generateApiKey();
    expect(key).toMatch(/^sk-sy-[0-9A-Za-z]{40}$/);
    expect(generateApiKey()).not.toBe(key);
  });

  it('draws characters uniformly, skipping bytes that would bias the alphabet', () => {
    // 248..255 are rejected; 0 → '0', 61 → 'z', 62 → '0' again.
    const bytes = Uint8Array.from([255, 248, 0, 61, 62, 247]);
    expect(randomBase62(4, () => bytes)).toBe('0z0z');
  });

  it('is hashed as lower-case hex sha256 of the whole key', () => {
    const key = 'sk-sy-abcdefghijklmnopqrstuvwxyz0123456789ABCD';
    expect(hashApiKey(key)).toBe(createHash('sha256').update(key).digest('hex'));
    expect(hashApiKey(key)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('keeps only the first 12 characters visible', () => {
    expect(apiKeyPrefix('sk-sy-AbCdEfGhIjKl')).toBe('sk-sy-AbCdEf');
  });

  it('refuses operator-given keys that are short, spaced or non-ASCII', () => {
    expect(checkApiKeyMaterial('sk-short')).toMatch(/at least 20/);
    expect(checkApiKeyMaterial('sk-with a space-0123456789')).toMatch(/printable/);
    expect(checkApiKeyMaterial('sk-ünïcode-0123456789012')).toMatch(/printable/);
    expect(checkApiKeyMaterial('sk-fixed-0123456789abcdef')).toBeUndefined();
  });

  it('names keys with a non-secret id', () => {
    expect(newKeyId()).toMatch(/^key_[0-9A-Za-z]{16}$/);
  });
});

describe('model globs', () => {
  it('splits, trims and de-duplicates', () => {
    expect(parseModelGlobs(' gpt-4o*, *,gpt-4o* ')).toEqual({ ok: true, globs: ['gpt-4o*', '*'] });
  });
  it.each(['', ' , ', 'gpt 4o', 'a,b"c'])('refuses %j', (bad) => {
    expect(parseModelGlobs(bad).ok).toBe(false);
  });
});
