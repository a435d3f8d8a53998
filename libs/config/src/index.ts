export { envString, envOptional, envInt, envBool } from './env';
export type { Env } from './env';
export { loadConnectionConfig, redactUrl, DEFAULT_NATS_URL, DEFAULT_DATABASE_URL, DEFAULT_CLICKHOUSE_URL } from './connections';
export type { ConnectionConfig } from './connections';
