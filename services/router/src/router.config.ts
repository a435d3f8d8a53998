import { envInt, loadConnectionConfig, type Env } from '@switchyard/config';

export interface RouterConfig {
  natsUrl: string;
  port: number;
  host: string;
  /** Periodic catalog refresh, on top of change notifications from billing. */
  refreshMs: number;
}

export function loadRouterConfig(env: Env = process.env): RouterConfig {
  return {
    natsUrl: loadConnectionConfig(env).natsUrl,
    port: envInt(env, 'ROUTER_PORT', 8081),
    host: env.ROUTER_HOST || '0.0.0.0',
    refreshMs: envInt(env, 'ROUTER_REFRESH_MS', 10_000, 100),
  };
}
