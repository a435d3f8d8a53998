import { envBool, envInt, loadConnectionConfig, type Env } from '@switchyard/config';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_ROUTE_PREFERENCES, POOL_STRATEGIES, ROUTE_MODES, WEIGHT_PRESETS, type PoolStrategy, type RouteMode, type RoutePreferences, type WeightPreset } from '@switchyard/routing';
import type { ChannelHealthConfig } from './routing/channel-health.book';
import { TOKENIZER_KINDS, type TokenizerKind } from './usage/token-estimate';
import { usdToNano } from '@switchyard/pricing';
import type { SpendConfig } from './spend/spend-guard';

export interface UpstreamTimeouts {
  /** TCP/TLS connect. */
  connectMs: number;
  /** Request sent → response headers. Non-streaming LLM calls answer only when done, so this is long. */
  headersMs: number;
  /** Streams: response headers → first content chunk. */
  firstTokenMs: number;
  /** Longest silence between two body chunks. */
  idleMs: number;
  /** Whole attempt, from send to last byte. */
  totalMs: number;
}

export interface RaceConfig {
  enabled: boolean;
  /** Most channels one race starts at once. */
  maxParallel: number;
  /** A race with nothing open by then is answered 504 (a non-streamed answer must be complete by then). */
  timeoutMs: number;
  /** Extra attempts (race and hedge) running at once across all requests of this ingress. */
  globalCap: number;
}

export interface IngressConfig {
  natsUrl: string;
  port: number;
  host: string;
  bodyLimitBytes: number;
  timeouts: UpstreamTimeouts;
  /** Keep-alive connections per upstream origin. */
  upstreamConnections: number;
  keyCacheTtlMs: number;
  keyCacheNegativeTtlMs: number;
  /** Budget for a key or credential lookup over NATS on a cache miss. */
  lookupTimeoutMs: number;
  usageSpoolMax: number;
  /** Where usage events overflow to (and wait at shutdown) while NATS is unreachable. */
  usageSpoolDir: string;
  race: RaceConfig;
  health: ChannelHealthConfig;
  /** Orders equally scored channels. */
  poolStrategy: PoolStrategy;
  /** The routing a request gets when neither its key nor the request says otherwise. */
  routeDefaults: RoutePreferences;
  /** Counts tokens for usage estimates when an upstream reports none. */
  tokenizer: TokenizerKind;
  /** Balance and key-budget enforcement with spend leases from billing. */
  spend: SpendConfig & { leaseTimeoutMs: number };
}

export function loadIngressConfig(env: Env = process.env): IngressConfig {
  return {
    natsUrl: loadConnectionConfig(env).natsUrl,
    port: envInt(env, 'INGRESS_PORT', 8080),
    host: env.INGRESS_HOST || '0.0.0.0',
    bodyLimitBytes: envInt(env, 'INGRESS_BODY_LIMIT_BYTES', 10 * 1024 * 1024, 1024),
    timeouts: {
      connectMs: envInt(env, 'INGRESS_CONNECT_TIMEOUT_MS', 10_000, 1),
      headersMs: envInt(env, 'INGRESS_HEADERS_TIMEOUT_MS', 300_000, 1),
      firstTokenMs: envInt(env, 'INGRESS_FIRST_TOKEN_TIMEOUT_MS', 300_000, 1),
      idleMs: envInt(env, 'INGRESS_IDLE_TIMEOUT_MS', 120_000, 1),
      totalMs: envInt(env, 'INGRESS_TOTAL_TIMEOUT_MS', 900_000, 1),
    },
    upstreamConnections: envInt(env, 'INGRESS_UPSTREAM_CONNECTIONS', 512, 1),
    keyCacheTtlMs: envInt(env, 'INGRESS_KEY_CACHE_TTL_MS', 60_000, 0),
    keyCacheNegativeTtlMs: envInt(env, 'INGRESS_KEY_CACHE_NEGATIVE_TTL_MS', 5_000, 0),
    lookupTimeoutMs: envInt(env, 'INGRESS_LOOKUP_TIMEOUT_MS', 2_000, 1),
    usageSpoolMax: envInt(env, 'INGRESS_USAGE_SPOOL_MAX', 100_000, 1),
    usageSpoolDir: env.INGRESS_USAGE_SPOOL_DIR || join(tmpdir(), `switchyard-ingress-${envInt(env, 'INGRESS_PORT', 8080)}`, 'usage-spool'),
    race: {
      enabled: envBool(env, 'INGRESS_RACE_ENABLED', true),
      maxParallel: envInt(env, 'INGRESS_RACE_MAX_PARALLEL', 3, 1),
      timeoutMs: envInt(env, 'INGRESS_RACE_TIMEOUT_MS', 30_000, 1),
      globalCap: envInt(env, 'INGRESS_PARALLEL_ATTEMPTS_CAP', 1_000, 1),
    },
    health: {
      breaker: {
        failureThreshold: envInt(env, 'INGRESS_BREAKER_FAILURES', 5, 1),
        openMs: envInt(env, 'INGRESS_BREAKER_OPEN_MS', 60_000, 1),
        successThreshold: envInt(env, 'INGRESS_BREAKER_SUCCESSES', 2, 1),
        earlyProbeMs: envInt(env, 'INGRESS_BREAKER_EARLY_PROBE_MS', 10_000, 0),
      },
      disableMs: envInt(env, 'INGRESS_CHANNEL_DISABLE_MS', 600_000, 1),
      rateLimitCooldownMs: envInt(env, 'INGRESS_RATE_LIMIT_COOLDOWN_MS', 10_000, 0),
    },
    poolStrategy: readChoice<PoolStrategy>(env, 'INGRESS_POOL_STRATEGY', POOL_STRATEGIES, 'round_robin'),
    routeDefaults: {
      ...DEFAULT_ROUTE_PREFERENCES,
      mode: readChoice<RouteMode>(env, 'INGRESS_ROUTE_MODE', ROUTE_MODES, DEFAULT_ROUTE_PREFERENCES.mode),
      preset: readChoice<WeightPreset>(env, 'INGRESS_ROUTE_PRESET', Object.keys(WEIGHT_PRESETS) as WeightPreset[], DEFAULT_ROUTE_PREFERENCES.preset),
    },
    tokenizer: readChoice<TokenizerKind>(env, 'INGRESS_TOKENIZER', TOKENIZER_KINDS, 'o200k'),
    spend: {
      enabled: envBool(env, 'INGRESS_SPEND_LEASES', true),
      sliceNano: readUsd(env, 'INGRESS_LEASE_SLICE_USD', '1.00'),
      defaultMaxOutputTokens: envInt(env, 'INGRESS_LEASE_DEFAULT_MAX_OUTPUT_TOKENS', 4_096, 1),
      refusalBackoffMs: envInt(env, 'INGRESS_LEASE_REFUSAL_BACKOFF_MS', 1_000, 0),
      leaseTimeoutMs: envInt(env, 'INGRESS_LEASE_TIMEOUT_MS', envInt(env, 'INGRESS_LOOKUP_TIMEOUT_MS', 2_000, 1), 1),
    },
  };
}

function readUsd(env: Env, name: string, fallback: string): bigint {
  const v = env[name]?.trim() || fallback;
  let nano: bigint;
  try {
    nano = usdToNano(v);
  } catch {
    throw new Error(`${name} must be a decimal USD amount like "1.00", got "${v}"`);
  }
  if (nano <= 0n) throw new Error(`${name} must be more than 0, got "${v}"`);
  return nano;
}

/** One of `choices` from the environment; unset or empty: `fallback`. */
function readChoice<T extends string>(env: Env, name: string, choices: readonly T[], fallback: T): T {
  const v = env[name];
  if (!v) return fallback;
  if ((choices as readonly string[]).includes(v)) return v as T;
  throw new Error(`${name} must be one of ${choices.join(', ')}, got "${v}"`);
}
