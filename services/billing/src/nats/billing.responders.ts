import type { Kysely } from 'kysely';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  CATALOG_CHANGED_SUBJECT,
  CATALOG_SUBJECT,
  CHANNEL_CREDENTIAL_SUBJECT,
  CHANNEL_OAUTH_ROTATED_SUBJECT,
  KEY_RESOLVE_SUBJECT,
  SPEND_LEASE_SUBJECT,
  leaseRequestSchema,
  type LeaseReply,
  catalogChannelSchema,
  catalogReplySchema,
  channelCredentialReplySchema,
  channelCredentialRequestSchema,
  keyResolveReplySchema,
  keyResolveRequestSchema,
  oauthRotatedReplySchema,
  oauthRotatedRequestSchema,
  type CatalogChanged,
  type OAuthRotatedReply,
  type CatalogChannel,
  type CatalogReply,
  type ChannelCredentialReply,
  type KeyResolveReply,
} from '@switchyard/contracts';
import type { Logger } from '@switchyard/telemetry';
import type { DB } from '../db/database';
import { findKeyWithGroupByHash, toKeySnapshot } from '../keys/api-keys.repository';
import { decryptCredential } from '../crypto/credential-cipher';
import { compareAndSetRefreshToken, findChannelCredential, loadCatalog } from '../channels/channels.repository';
import { readOAuthCredential } from '../channels/channel-credential';
import { Responder, decodeJson } from './responder';
import { grantLease, type LeaseTimings } from '../leases/lease.repository';

export const DEFAULT_LEASE_TIMINGS: LeaseTimings = { ttlMs: 30_000, graceMs: 120_000 };

/** KEY_RESOLVE_SUBJECT: `{key_hash}` → the key snapshot, or `{found:false}` (also for a malformed hash). */
export async function resolveKey(db: Kysely<DB>, data: Uint8Array): Promise<KeyResolveReply> {
  const req = keyResolveRequestSchema.safeParse(decodeJson(data));
  if (!req.success) return { found: false };
  const row = await findKeyWithGroupByHash(db, req.data.key_hash);
  return keyResolveReplySchema.parse(row ? { found: true, key: toKeySnapshot(row) } : { found: false });
}

/**
 * CATALOG_SUBJECT: every channel (enabled or not) with its priced models. A
 * channel that does not fit the contract (say, a base_url edited into
 * something invalid in SQL) is left out and logged, instead of breaking the
 * catalog for all the others.
 */
export async function catalogReply(db: Kysely<DB>, log: Logger): Promise<CatalogReply> {
  const { channels, unpriced } = await loadCatalog(db);
  const valid: CatalogChannel[] = [];
  for (const c of channels) {
    const r = catalogChannelSchema.safeParse(c);
    if (r.success) valid.push(r.data);
    else log.warn({ channel_id: c.id, reason: r.error.issues[0]?.message }, 'channel left out of the catalog: invalid');
  }
  if (unpriced.length > 0) log.debug({ unpriced }, 'models without a price in force are not offered');
  return catalogReplySchema.parse({ channels: valid });
}

/**
 * CHANNEL_CREDENTIAL_SUBJECT: `{channel_id}` → its upstream key or OAuth grant,
 * and its settings. The secret is never logged.
 */
export async function channelCredential(db: Kysely<DB>, data: Uint8Array, credentialKey: Buffer | null = null): Promise<ChannelCredentialReply> {
  const req = channelCredentialRequestSchema.safeParse(decodeJson(data));
  if (!req.success) return { channel_id: '', found: false, api_key: null };
  const row = await findChannelCredential(db, req.data.channel_id);
  const plain = row?.credential ? decryptCredential(row.credential, credentialKey) : null;
  const settings = row?.settings && Object.keys(row.settings).length > 0 ? row.settings : undefined;
  if (row?.credential_type === 'oauth') {
    // A grant that no longer parses is sent as no credential: the upstream's 401 then takes the channel out.
    const grant = plain === null ? null : readOAuthCredential(plain);
    const oauth = grant ? { client_id: grant.client_id, client_secret: grant.client_secret, token_url: grant.token_url, refresh_token: grant.refresh_token, ...(grant.scope ? { scope: grant.scope } : {}), ...(grant.client_auth ? { client_auth: grant.client_auth } : {}) } : undefined;
    return channelCredentialReplySchema.parse({ channel_id: req.data.channel_id, found: true, api_key: null, ...(oauth ? { oauth } : {}), ...(settings ? { settings } : {}) });
  }
  return channelCredentialReplySchema.parse({ channel_id: req.data.channel_id, found: row !== undefined, api_key: plain, ...(settings ? { settings } : {}) });
}

/**
 * CHANNEL_OAUTH_ROTATED_SUBJECT: an ingress saw the token endpoint rotate a
 * channel's refresh token. Stored (encrypted) only over the one it refreshed
 * from; when written, `announce` tells every ingress the credential changed.
 * A malformed request throws (a service error: the ingress retries, then
 * gives up). Logs the channel and outcome, never a token.
 */
export async function oauthRotated(
  db: Kysely<DB>,
  data: Uint8Array,
  credentialKey: Buffer | null,
  announce: (notice: CatalogChanged) => void,
  log: Logger,
): Promise<OAuthRotatedReply> {
  const req = oauthRotatedRequestSchema.safeParse(decodeJson(data));
  if (!req.success) throw new Error('malformed oauth rotation request');
  const { channel_id } = req.data;
  const result = await compareAndSetRefreshToken(db, channel_id, req.data.expected_refresh_token_sha256, req.data.refresh_token, credentialKey);
  if (result === 'stored') announce({ channel_id, reason: 'credential' });
  if (result === 'stale') log.warn({ channel_id }, 'oauth rotation refused: billing holds a newer refresh token for this channel');
  else log.info({ channel_id, outcome: result }, 'oauth refresh token rotation reported');
  return oauthRotatedReplySchema.parse({ channel_id, outcome: result === 'unchanged' ? 'stored' : result });
}

/**
 * SPEND_LEASE_SUBJECT: acquire, top up, renew or release a spend lease. A
 * malformed request throws (a service error reply): ingress treats it like
 * billing being unreachable and never as a grant.
 */
export async function spendLease(db: Kysely<DB>, data: Uint8Array, timings: LeaseTimings): Promise<LeaseReply> {
  const req = leaseRequestSchema.parse(decodeJson(data));
  return grantLease(db, req, timings);
}

export function createBillingResponders(
  nc: NatsConnection,
  db: Kysely<DB>,
  log: Logger,
  credentialKey: Buffer | null = null,
  leaseTimings: LeaseTimings = DEFAULT_LEASE_TIMINGS,
): Responder[] {
  return [
    new Responder(nc, { subject: SPEND_LEASE_SUBJECT, handle: (d) => spendLease(db, d, leaseTimings) }, log),
    new Responder(nc, { subject: KEY_RESOLVE_SUBJECT, handle: (d) => resolveKey(db, d) }, log),
    new Responder(nc, { subject: CATALOG_SUBJECT, handle: () => catalogReply(db, log) }, log),
    new Responder(nc, { subject: CHANNEL_CREDENTIAL_SUBJECT, handle: (d) => channelCredential(db, d, credentialKey) }, log),
    new Responder(nc, { subject: CHANNEL_OAUTH_ROTATED_SUBJECT, handle: (d) => oauthRotated(db, d, credentialKey, (n) => nc.publish(CATALOG_CHANGED_SUBJECT, JSON.stringify(n)), log) }, log),
  ];
}
