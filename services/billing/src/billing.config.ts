import { envBool, envInt, envString, loadConnectionConfig, type Env } from '@switchyard/config';
import { parseCredentialKey } from './crypto/credential-cipher';

export interface BillingConfig {
  natsUrl: string;
  databaseUrl: string;
  port: number;
  host: string;
  /** Largest pg pool; the consumer holds one connection per batch, responders the rest. */
  dbPoolMax: number;
  /** Usage events settled per transaction at most. */
  batchSize: number;
  /** Longest wait to fill a batch; the JetStream client refuses pull expiries under 1 s. */
  batchWaitMs: number;
  /** Apply pending migrations at start (disable when a release job migrates). */
  migrateOnStart: boolean;
  /** Settle usage events (off for a replica that only answers key/catalog requests). */
  consumeUsage: boolean;
  /** AES-256-GCM key for channel credentials (SWITCHYARD_CREDENTIAL_KEY); null: credentials cannot be stored. */
  credentialKey: Buffer | null;
  /** Bearer token of the admin API (SWITCHYARD_ADMIN_TOKEN); null: the admin API answers 503. */
  adminToken: string | null;
  /** SWITCHYARD_CONFIG: a declarative YAML file applied at start (its `${VAR}` from `env`); null: none. */
  declarativeConfig: { file: string; env: Env } | null;
  /** Spend leases: life after each grant/renewal, and how long an expired or released one still reserves what is unbooked. */
  leaseTtlMs: number;
  leaseGraceMs: number;
}

export function loadBillingConfig(env: Env = process.env): BillingConfig {
  const conn = loadConnectionConfig(env);
  return {
    natsUrl: conn.natsUrl,
    databaseUrl: conn.databaseUrl,
    port: envInt(env, 'BILLING_PORT', 8082),
    host: envString(env, 'BILLING_HOST', '0.0.0.0'),
    dbPoolMax: envInt(env, 'BILLING_DB_POOL_MAX', 10, 1),
    batchSize: envInt(env, 'BILLING_BATCH_SIZE', 200, 1),
    batchWaitMs: envInt(env, 'BILLING_BATCH_WAIT_MS', 1_000, 1_000),
    migrateOnStart: envBool(env, 'BILLING_MIGRATE_ON_START', true),
    consumeUsage: envBool(env, 'BILLING_CONSUME_USAGE', true),
    credentialKey: parseCredentialKey(env.SWITCHYARD_CREDENTIAL_KEY),
    adminToken: env.SWITCHYARD_ADMIN_TOKEN?.trim() || null,
    declarativeConfig: env.SWITCHYARD_CONFIG?.trim() ? { file: env.SWITCHYARD_CONFIG.trim(), env } : null,
    leaseTtlMs: envInt(env, 'BILLING_LEASE_TTL_MS', 30_000, 1_000),
    leaseGraceMs: envInt(env, 'BILLING_LEASE_GRACE_MS', 120_000, 0),
  };
}
