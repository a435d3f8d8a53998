import { z } from 'zod';

/** Integer nano-USD within the safe integer range (about $9M). */
const nano = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/**
 * What a spend lease limits: the account's balance, or one key's budget for
 * one UTC day (`period` = `YYYY-MM-DD`) or month (`YYYY-MM`).
 */
export const leaseScopeSchema = z.enum(['account', 'key_day', 'key_month']);
export type LeaseScope = z.infer<typeof leaseScopeSchema>;

/**
 * SPEND_LEASE_SUBJECT request. One message acquires a lease (an unknown
 * `lease_id`), tops it up (`want_nano` > 0), renews it (extends its expiry)
 * and reports what the replica has committed under it; `release: true`
 * ends it and gives back everything not committed.
 */
export const leaseRequestSchema = z
  .object({
    /** Chosen by ingress (a UUID): a retried acquire is the same lease. */
    lease_id: z.string().min(1).max(64),
    /** The ingress replica holding the lease (logs and operator queries). */
    replica_id: z.string().min(1).max(128),
    account_id: z.string().min(1),
    key_id: z.string().min(1).nullable(),
    scope: leaseScopeSchema,
    /** `YYYY-MM-DD` (key_day), `YYYY-MM` (key_month), null (account). */
    period: z.string().nullable(),
    /** More allowance asked for now (0: renew only). */
    want_nano: nano,
    /** The smallest grant that serves a waiting request (its worst case); 0 or absent: none waiting. */
    need_nano: nano.optional(),
    /** Settled cost plus open holds under this lease, as ingress counts it. */
    committed_nano: nano,
    release: z.boolean().default(false),
  })
  .refine((r) => (r.scope === 'account' ? r.period === null : r.key_id !== null && r.period !== null), {
    message: 'key scopes need key_id and period; the account scope has neither period',
  });
export type LeaseRequest = z.input<typeof leaseRequestSchema>;

export const leaseReplySchema = z.object({
  lease_id: z.string(),
  /**
   * `granted`: the lease is live (added_nano may be 0 when nothing is left).
   * `expired`: the lease ended at billing (TTL passed or released): start a new one.
   * `no_balance`: the account has no balance row (nothing can be spent).
   */
  status: z.enum(['granted', 'expired', 'no_balance']),
  /** Everything granted to this lease so far (cumulative). */
  granted_nano: nano,
  /** Granted by this request. */
  added_nano: nano,
  /** The lease stays live this long after billing answered, unless renewed. */
  ttl_ms: z.number().int().positive(),
  /** The limit this scope has (balance, or the budget; null: the key has no such budget). */
  limit_nano: z.number().int().nullable(),
  /**
   * Another replica was refused in this scope lately while this lease holds
   * allowance it has not committed: stop holding under this lease and
   * release it (the unused part goes back), then start a new one when needed.
   */
  trim: z.boolean().optional(),
});
export type LeaseReply = z.infer<typeof leaseReplySchema>;
