import { envInt, loadConnectionConfig, type Env } from '@switchyard/config';

export interface RouterConfig {
  natsUrl: string;
  clickhouseUrl: string;
  clickhouseDatabase: string;
  port: number;
  host: string;
  /** Periodic catalog refresh, on top of change notifications from billing. */
  refreshMs: number;
  /** Minutes of usage replayed from ClickHouse at start, and the age beyond which events are not applied (ROUTER_REBUILD_MINUTES, default 15). */
  rebuildMinutes: number;
  /** Most requests replayed from ClickHouse at start, the newest first (ROUTER_REBUILD_MAX_EVENTS, default 100000). */
  rebuildMaxEvents: number;
  /** Timeout of the rebuild query (ROUTER_CLICKHOUSE_TIMEOUT_MS, default 10000). */
  clickhouseTimeoutMs: number;
  /** Shortest interval between health-only plan publishes (ROUTER_HEALTH_PUBLISH_MS, default 5000). */
  healthPublishMs: number;
}

export function loadRouterConfig(env: Env = process.env): RouterConfig {
  const c = loadConnectionConfig(env);
  return {
    natsUrl: c.natsUrl,
    clickhouseUrl: c.clickhouseUrl,
    clickhouseDatabase: c.clickhouseDatabase,
    port: envInt(env, 'ROUTER_PORT', 8081),
    host: env.ROUTER_HOST || '0.0.0.0',
    refreshMs: envInt(env, 'ROUTER_REFRESH_MS', 10_000, 100),
    rebuildMinutes: envInt(env, 'ROUTER_REBUILD_MINUTES', 15, 1),
    rebuildMaxEvents: envInt(env, 'ROUTER_REBUILD_MAX_EVENTS', 100_000, 1),
    clickhouseTimeoutMs: envInt(env, 'ROUTER_CLICKHOUSE_TIMEOUT_MS', 10_000, 100),
    healthPublishMs: envInt(env, 'ROUTER_HEALTH_PUBLISH_MS', 5_000, 100),
  };
}
