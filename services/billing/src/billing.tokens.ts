/** Nest injection tokens; every dependency is injected by an explicit token. */
export const BILLING_CONFIG = Symbol('BILLING_CONFIG');
export const BILLING_OPTIONS = Symbol('BILLING_OPTIONS');
export const LOGGER = Symbol('LOGGER');
export const DATABASE = Symbol('DATABASE');
export const NATS = Symbol('NATS');
export const RESPONDERS = Symbol('RESPONDERS');
export const USAGE_CONSUMER = Symbol('USAGE_CONSUMER');
/** Resolves once SWITCHYARD_CONFIG (if any) is applied; responders and the consumer start after it. */
export const CONFIG_APPLIED = Symbol('CONFIG_APPLIED');
