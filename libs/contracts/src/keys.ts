import { z } from 'zod';

/** Ingress hashes the presented key itself: the plaintext never crosses the bus. */
export const keyResolveRequestSchema = z.object({ key_hash: z.string().regex(/^[0-9a-f]{64}$/) });
export type KeyResolveRequest = z.infer<typeof keyResolveRequestSchema>;

export const keySnapshotSchema = z.object({
  key_id: z.string(),
  account_id: z.string(),
  name: z.string(),
  /** Allowed public model ids; globs with `*`. */
  models: z.array(z.string()),
  revoked: z.boolean(),
  expires_at: z.string().nullable(),
});
export type KeySnapshot = z.infer<typeof keySnapshotSchema>;

export const keyResolveReplySchema = z.discriminatedUnion('found', [
  z.object({ found: z.literal(true), key: keySnapshotSchema }),
  z.object({ found: z.literal(false) }),
]);
export type KeyResolveReply = z.infer<typeof keyResolveReplySchema>;

export const keyChangedSchema = z.object({ key_hash: z.string(), key_id: z.string() });
export type KeyChanged = z.infer<typeof keyChangedSchema>;
