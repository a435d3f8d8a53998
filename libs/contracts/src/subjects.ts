/**
 * NATS names shared by producers and consumers. One place, so a rename is a
 * compile error rather than a silent split of the bus.
 */
export const USAGE_STREAM = 'SWITCHYARD_USAGE';
export const USAGE_SUBJECT_V1 = 'switchyard.usage.v1';
/** Events that failed validation, with the reason in the `Switchyard-Dlq-Reason` header. */
export const USAGE_DLQ_STREAM = 'SWITCHYARD_USAGE_DLQ';
export const USAGE_DLQ_SUBJECT = 'switchyard.usage.dlq';
export const DLQ_REASON_HEADER = 'Switchyard-Dlq-Reason';
/** JetStream deduplicates a re-published event (same Nats-Msg-Id = request id) inside this window. */
export const USAGE_DUPLICATE_WINDOW_MS = 60 * 60 * 1000;

export const STATS_CONSUMER = 'stats';
export const BILLING_CONSUMER = 'billing';
export const ROUTER_CONSUMER = 'router';

/** KV bucket holding the current routing plan; ingress watches it. */
export const PLAN_BUCKET = 'switchyard_plans';
export const PLAN_KEY = 'current';

/** Request-reply: ingress resolves an API key hash to a key snapshot. */
export const KEY_RESOLVE_SUBJECT = 'switchyard.billing.keys.resolve';
/** Broadcast: a key changed (revoked, limits); ingress drops its cache entry. */
export const KEY_CHANGED_SUBJECT = 'switchyard.billing.keys.changed';
/** Request-reply: router asks billing for the channel catalog (no secrets). */
export const CATALOG_SUBJECT = 'switchyard.billing.catalog';
/**
 * Broadcast: the catalog changed (`catalogChangedSchema`); router rebuilds its
 * plan, and ingress drops the cached credential of the named channel.
 */
export const CATALOG_CHANGED_SUBJECT = 'switchyard.billing.catalog.changed';
/** Request-reply: ingress asks billing for one channel's upstream credential. */
export const CHANNEL_CREDENTIAL_SUBJECT = 'switchyard.billing.channels.credential';
/**
 * Request-reply: ingress hands billing the refresh token an OAuth token
 * endpoint rotated to; billing stores it only if it still holds the one the
 * ingress refreshed from (compare-and-set), then announces a credential
 * change on CATALOG_CHANGED_SUBJECT.
 */
export const CHANNEL_OAUTH_ROTATED_SUBJECT = 'switchyard.billing.channels.oauth.rotated';
/**
 * Request-reply: ingress acquires, tops up, renews and releases spend leases
 * (slices of an account's balance or a key's budget) — see leases.ts.
 */
export const SPEND_LEASE_SUBJECT = 'switchyard.billing.leases';
