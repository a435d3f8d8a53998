import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** Stored form: `enc:v1:<iv b64>:<tag b64>:<ciphertext b64>` (AES-256-GCM, 12-byte IV, 16-byte tag). */
export const CIPHERTEXT_PREFIX = 'enc:v1:';
export const CREDENTIAL_KEY_ENV = 'SWITCHYARD_CREDENTIAL_KEY';
export const CREDENTIAL_KEY_HELP =
  `set ${CREDENTIAL_KEY_ENV} to 32 random bytes in base64, e.g. ${CREDENTIAL_KEY_ENV}=$(openssl rand -base64 32), ` +
  'the same value for every billing process and the admin CLI';

/** The key is missing or malformed: credentials can be neither stored nor read. */
export class CredentialKeyError extends Error {
  override readonly name = 'CredentialKeyError';
}

/**
 * Reads the 32-byte key from base64. Undefined/empty → null (no key
 * configured); anything that is not exactly 32 bytes of base64 throws, so a
 * typo never silently disables encryption.
 */
export function parseCredentialKey(value: string | undefined): Buffer | null {
  if (value === undefined || value.trim() === '') return null;
  const v = value.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(v)) throw new CredentialKeyError(`${CREDENTIAL_KEY_ENV} is not base64; ${CREDENTIAL_KEY_HELP}`);
  const key = Buffer.from(v, 'base64');
  if (key.length !== 32) throw new CredentialKeyError(`${CREDENTIAL_KEY_ENV} must decode to 32 bytes (got ${key.length}); ${CREDENTIAL_KEY_HELP}`);
  return key;
}

export function isEncrypted(stored: string): boolean {
  return stored.startsWith(CIPHERTEXT_PREFIX);
}

export function encryptCredential(plaintext: string, key: Buffer | null): string {
  if (!key) throw new CredentialKeyError(`cannot store a channel credential: no encryption key; ${CREDENTIAL_KEY_HELP}`);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return `${CIPHERTEXT_PREFIX}${iv.toString('base64')}:${cipher.getAuthTag().toString('base64')}:${ct.toString('base64')}`;
}

/**
 * The plaintext of a stored credential. A value without the prefix is legacy
 * plaintext (from before encryption; encrypted at the next start with a key)
 * and is returned as is. A wrong key or tampered value throws.
 */
export function decryptCredential(stored: string, key: Buffer | null): string {
  if (!isEncrypted(stored)) return stored;
  if (!key) throw new CredentialKeyError(`a channel credential is encrypted but no key is configured; ${CREDENTIAL_KEY_HELP}`);
  const [iv, tag, ct] = stored.slice(CIPHERTEXT_PREFIX.length).split(':');
  if (!iv || !tag || ct === undefined) throw new CredentialKeyError('malformed encrypted credential');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(ct, 'base64')), decipher.final()]).toString('utf8');
  } catch {
    throw new CredentialKeyError(`cannot decrypt a channel credential: wrong ${CREDENTIAL_KEY_ENV} or tampered value`);
  }
}
