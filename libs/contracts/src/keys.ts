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
  /**
   * Optional (added for limits and groups; absent from older billing replies).
   * Ingress enforces: model access = `models` ∩ `group_models`, expiry, rpm/tpm
   * and budgets; money fields are integer nano-USD, null = no limit.
   */
  group_id: z.string().nullable().optional(),
  /** The group's price multiplier in parts per million (1_000_000 = ×1). */
  price_multiplier_ppm: z.number().int().nonnegative().optional(),
  /** Model globs the key's group allows (["*"] without a group). */
  group_models: z.array(z.string()).optional(),
  rpm: z.number().int().positive().nullable().optional(),
  tpm: z.number().int().positive().nullable().optional(),
  budget_nano_per_day: z.number().int().nonnegative().nullable().optional(),
  budget_nano_per_month: z.number().int().nonnegative().nullable().optional(),
  /** The key's default route mode and preset when the request names none. */
  route_mode: z.string().nullable().optional(),
  route_preset: z.string().nullable().optional(),
  /**
   * Per-key routing control (optional; absent from older billing replies,
   * null = no setting). Allowed channels and the price ceilings (integer
   * nano-USD per 1M tokens) are hard limits a request may only narrow;
   * `route_order` leads the plan; `route_allow_fallbacks: false` means one
   * channel only and a request cannot turn fallbacks back on;
   * `route_midstream_failover: true` opts the key into continuing a broken
   * stream on the next channel.
   */
  route_allowed_channels: z.array(z.string()).nullable().optional(),
  route_order: z.array(z.string()).nullable().optional(),
  route_max_input_nano_per_mtok: z.number().int().nonnegative().nullable().optional(),
  route_max_output_nano_per_mtok: z.number().int().nonnegative().nullable().optional(),
  route_allow_fallbacks: z.boolean().nullable().optional(),
  route_midstream_failover: z.boolean().nullable().optional(),
});
export type KeySnapshot = z.infer<typeof keySnapshotSchema>;

export const keyResolveReplySchema = z.discriminatedUnion('found', [
  z.object({ found: z.literal(true), key: keySnapshotSchema }),
  z.object({ found: z.literal(false) }),
]);
export type KeyResolveReply = z.infer<typeof keyResolveReplySchema>;

export const keyChangedSchema = z.object({ key_hash: z.string(), key_id: z.string() });
export type KeyChanged = z.infer<typeof keyChangedSchema>;
