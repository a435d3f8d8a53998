import { createHash, randomBytes } from 'node:crypto';

export const API_KEY_PREFIX = 'sk-sy-';
/** Random characters after the prefix: 40 base62 chars ≈ 238 bits. */
export const API_KEY_RANDOM_CHARS = 40;
/** Characters of a key kept visible for operators ("sk-sy-AbCdEf"). */
export const KEY_PREFIX_CHARS = 12;

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export type RandomSource = (size: number) => Uint8Array;

/**
 * Uniform base62 string from a byte source, by rejection sampling: bytes
 * >= 248 (= 4·62) are skipped, so no character is more likely than another.
 */
export function randomBase62(length: number, random: RandomSource = randomBytes): string {
  let out = '';
  while (out.length < length) {
    for (const b of random(length * 2)) {
      if (b >= 248) continue;
      out += BASE62[b % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

/** New key material: `sk-sy-` + 40 base62 chars. Shown once, never stored. */
export function generateApiKey(random: RandomSource = randomBytes): string {
  return API_KEY_PREFIX + randomBase62(API_KEY_RANDOM_CHARS, random);
}

/** Lower-case hex sha256 of the full key: what billing stores and ingress sends. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function apiKeyPrefix(key: string): string {
  return key.slice(0, KEY_PREFIX_CHARS);
}

/**
 * Operator-supplied key material: printable ASCII without spaces, long enough
 * not to be guessed, short enough for a header.
 */
export function checkApiKeyMaterial(key: string): string | undefined {
  if (!/^[\x21-\x7e]+$/.test(key)) return 'a key may contain printable ASCII characters only, no spaces';
  if (key.length < 20) return 'a key must be at least 20 characters long';
  if (key.length > 256) return 'a key must be at most 256 characters long';
  return undefined;
}

/** Ids are not secret; they name keys in logs, events and the ledger. */
export function newKeyId(random: RandomSource = randomBytes): string {
  return `key_${randomBase62(16, random)}`;
}

const MODEL_GLOB = /^[A-Za-z0-9*._:/@+-]{1,200}$/;

/** Parses a comma-separated glob list ("gpt-4o*,claude-*"); returns an error message or the list. */
export function parseModelGlobs(list: string): { ok: true; globs: string[] } | { ok: false; reason: string } {
  const globs = [...new Set(list.split(',').map((g) => g.trim()).filter((g) => g.length > 0))];
  if (globs.length === 0) return { ok: false, reason: 'the model list is empty' };
  const bad = globs.find((g) => !MODEL_GLOB.test(g));
  if (bad !== undefined) return { ok: false, reason: `"${bad}" is not a model id or glob (letters, digits, . _ : / @ + - and *)` };
  return { ok: true, globs };
}
