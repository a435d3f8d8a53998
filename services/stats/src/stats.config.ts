import { type Env, envInt, envString, loadConnectionConfig } from '@switchyard/config';

export interface StatsConfig {
  natsUrl: string;
  clickhouseUrl: string;
  clickhouseDatabase: string;
  /** HTTP port of the query API (STATS_PORT, default 8083; 0 picks a free port). */
  port: number;
  /** HTTP bind address (STATS_HOST, default 0.0.0.0). */
  host: string;
  /** Most events written per insert (STATS_BATCH_SIZE, default 1000). */
  batchSize: number;
  /**
   * Largest insert while the consumer is behind (STATS_BATCH_MAX_SIZE,
   * default 4 × STATS_BATCH_SIZE capped at 10,000, never below
   * STATS_BATCH_SIZE): a full fetch with as many again waiting doubles the next one, up to this.
   */
  maxBatchSize: number;
  /** Longest wait to fill a batch (STATS_BATCH_WAIT_MS, default 1000; nats.js pull expiry needs >= 1000). */
  batchWaitMs: number;
  /** Per-request ClickHouse timeout (STATS_CLICKHOUSE_TIMEOUT_MS, default 30000). */
  clickhouseTimeoutMs: number;
  /** How often the JetStream consumer lag is read for /metrics (STATS_LAG_POLL_MS, default 5000). */
  lagPollMs: number;
  /** Days of raw usage_events kept (STATS_RETENTION_DAYS, default 400); rollups are kept. */
  retentionDays: number;
}

/** STATS_BATCH_MAX_SIZE's default is at most this: two batches in hand (one written, one prepared) then fit the consumer's max_ack_pending of 20,000. */
export const MAX_BATCH_DEFAULT_CAP = 10_000;

/** nats.js refuses a pull whose `expires` is under one second. */
export const MIN_BATCH_WAIT_MS = 1000;

export function loadStatsConfig(env: Env = process.env): StatsConfig {
  const c = loadConnectionConfig(env);
  const batchSize = envInt(env, 'STATS_BATCH_SIZE', 1000, 1);
  return {
    natsUrl: c.natsUrl,
    clickhouseUrl: c.clickhouseUrl,
    clickhouseDatabase: c.clickhouseDatabase,
    port: envInt(env, 'STATS_PORT', 8083),
    host: envString(env, 'STATS_HOST', '0.0.0.0'),
    batchSize,
    maxBatchSize: Math.max(batchSize, envInt(env, 'STATS_BATCH_MAX_SIZE', Math.max(batchSize, Math.min(4 * batchSize, MAX_BATCH_DEFAULT_CAP)), 1)),
    batchWaitMs: envInt(env, 'STATS_BATCH_WAIT_MS', 1000, MIN_BATCH_WAIT_MS),
    clickhouseTimeoutMs: envInt(env, 'STATS_CLICKHOUSE_TIMEOUT_MS', 30_000, 100),
    lagPollMs: envInt(env, 'STATS_LAG_POLL_MS', 5_000, 100),
    retentionDays: envInt(env, 'STATS_RETENTION_DAYS', 400, 1),
  };
}
