import { createHash } from 'node:crypto';
import { z } from 'zod';
import { priceSnapshotSchema } from './usage.v1';
import { providerSchema } from './plan.v1';

/** Billing's channel catalog as the router sees it (request-reply on CATALOG_SUBJECT). */
export const catalogChannelSchema = z.object({
  id: z.string().min(1),
  provider: providerSchema,
  base_url: z.string().url(),
  priority: z.number().int(),
  weight: z.number().int().nonnegative(),
  enabled: z.boolean(),
  models: z.array(
    z.object({
      model: z.string().min(1),
      upstream_model: z.string().min(1),
      price: priceSnapshotSchema,
    }),
  ),
});
export type CatalogChannel = z.infer<typeof catalogChannelSchema>;

export const catalogReplySchema = z.object({ channels: z.array(catalogChannelSchema) });
export type CatalogReply = z.infer<typeof catalogReplySchema>;

/** Ingress → billing: the upstream credential of one channel. Never logged, never in events. */
export const channelCredentialRequestSchema = z.object({ channel_id: z.string().min(1) });
export const channelCredentialReplySchema = z.object({
  channel_id: z.string(),
  found: z.boolean(),
  /** A static key (sent as the provider's key header); null with `oauth` or without a credential. */
  api_key: z.string().nullable(),
  /** An OAuth refresh-token credential: ingress exchanges it for short-lived access tokens. */
  oauth: z
    .object({
      client_id: z.string().min(1),
      client_secret: z.string(),
      token_url: z.string().url(),
      refresh_token: z.string().min(1),
      scope: z.string().optional(),
      /** RFC 6749 §2.3.1 client authentication: HTTP Basic (default) or client_id/client_secret in the form. */
      client_auth: z.enum(['basic', 'post']).optional(),
    })
    .optional(),
  /** Non-secret per-channel settings (Azure OpenAI's `api_version`). */
  settings: z.object({ api_version: z.string().optional() }).optional(),
});
export type ChannelCredentialReply = z.infer<typeof channelCredentialReplySchema>;

/**
 * The body of a CATALOG_CHANGED_SUBJECT notice. `reason: 'credential'` is a
 * credential change alone (an OAuth refresh token rotated), which moves no
 * routing, so the router's plan does not change and ingress must act on the
 * notice itself.
 */
export const catalogChangedSchema = z.object({
  channel_id: z.string().min(1).optional(),
  reason: z.string().optional(),
});
export type CatalogChanged = z.infer<typeof catalogChangedSchema>;

/**
 * Ingress → billing on CHANNEL_OAUTH_ROTATED_SUBJECT: the token endpoint
 * replaced the refresh token. The one refreshed from is sent as its SHA-256
 * (hex) only: billing compares it with the stored one, so the old secret does
 * not cross the bus again. Never logged.
 */
export const oauthRotatedRequestSchema = z.object({
  channel_id: z.string().min(1),
  expected_refresh_token_sha256: z.string().regex(/^[0-9a-f]{64}$/),
  refresh_token: z.string().min(1),
});
export type OAuthRotatedRequest = z.infer<typeof oauthRotatedRequestSchema>;

/** `expected_refresh_token_sha256` of a refresh token: SHA-256 of its UTF-8 bytes, lowercase hex (both sides compute it so). */
export function refreshTokenSha256(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * `stored`: billing now holds the new refresh token (also when it already
 * did: a retried request is harmless). `stale`: billing holds another one
 * (a newer rotation by another replica, or a grant the operator replaced);
 * nothing was written. `not_found`: no such OAuth channel.
 */
export const oauthRotatedReplySchema = z.object({
  channel_id: z.string(),
  outcome: z.enum(['stored', 'stale', 'not_found']),
});
export type OAuthRotatedReply = z.infer<typeof oauthRotatedReplySchema>;
