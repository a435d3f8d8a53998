import type { FastifyRequest } from 'fastify';
import { GatewayError } from '../errors/gateway-error';
import type { KeyCache, ResolvedKey } from './key-cache';

const BEARER = /^Bearer\s+(\S+)\s*$/i;

function presentedKey(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth === 'string') return BEARER.exec(auth)?.[1];
  const x = req.headers['x-api-key'];
  return typeof x === 'string' && x.length > 0 ? x : undefined;
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
