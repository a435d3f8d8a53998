import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CredentialKeyError, decryptCredential, encryptCredential, parseCredentialKey } from './credential-cipher';

describe('credential cipher', () => {
  const key = randomBytes(32);

  it('round-trips and never stores the plaintext', () => {
    const stored = encryptCredential('sk-upstream-secret', key);
    expect(stored).toMatch(/^enc:v1:/);
    expect(stored).not.toContain('sk-upstream-secret');
    expect(encryptCredential('sk-upstream-secret', key)).not.toBe(stored);
    expect(decryptCredential(stored, key)).toBe('sk-upstream-secret');
  });

  it('refuses to encrypt without a key, and to decrypt with a wrong key or a tampered value', () => {
    expect(() => encryptCredential('x', null)).toThrow(/SWITCHYARD_CREDENTIAL_KEY/);
    const stored = encryptCredential('secret', key);
    expect(() => decryptCredential(stored, randomBytes(32))).toThrow(CredentialKeyError);
    expect(() => decryptCredential(stored.slice(0, -4) + 'AAAA', key)).toThrow(CredentialKeyError);
  });

  it('reads legacy plaintext as is', () => {
    expect(decryptCredential('sk-legacy', null)).toBe('sk-legacy');
  });

  it('parses a 32-byte base64 key and refuses anything else', () => {
    expect(parseCredentialKey(undefined)).toBeNull();
    expect(parseCredentialKey(key.toString('base64'))?.equals(key)).toBe(true);
    expect(() => parseCredentialKey(randomBytes(16).toString('base64'))).toThrow(/32 bytes/);
    expect(() => parseCredentialKey('not base64!')).toThrow(/base64/);
  });
});
