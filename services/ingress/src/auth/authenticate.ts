import type { FastifyRequest } from 'fastify';
import { GatewayError } from '../errors/gateway-error';
import type { KeyCache, ResolvedKey } from './key-cache';

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** The key as each protocol's SDK sends it: Bearer (OpenAI), x-api-key (Anthropic), x-goog-api-key or ?key= (Gemini). */
function presentedKey(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && auth.length > 0) return BEARER.exec(auth)?.[1];
  for (const h of ['x-api-key', 'x-goog-api-key'] as const) {
    const x = req.headers[h];
    if (typeof x === 'string' && x.length > 0) return x;
  }
  const q = (req.query as { key?: unknown } | undefined)?.key;
  return typeof q === 'string' && q.length > 0 ? q : undefined;
}

/** Resolves the caller's key from the cache; every failure is a 401 that names no key material. */
export async function authenticate(keys: KeyCache, req: FastifyRequest): Promise<ResolvedKey> {
  const presented = presentedKey(req);
  if (!presented) {
    throw new GatewayError('unauthenticated', {
      message: 'Missing API key. Pass it as "Authorization: Bearer <key>".',
      code: 'missing_api_key',
    });
  }
  const key = await keys.resolve(presented);
  if (!key) throw new GatewayError('unauthenticated', { message: 'Incorrect API key provided.', code: 'invalid_api_key' });
  if (key.revoked) throw new GatewayError('unauthenticated', { message: 'This API key has been revoked.', code: 'revoked_api_key' });
  if (key.expires_at && Date.parse(key.expires_at) <= Date.now()) {
    throw new GatewayError('unauthenticated', { message: 'This API key has expired.', code: 'expired_api_key' });
  }
  return key;
}
