import { type Env, envString } from './env';

/** Where the shared infrastructure lives. Defaults match `npm start`'s local stack. */
export interface ConnectionConfig {
  natsUrl: string;
  databaseUrl: string;
  clickhouseUrl: string;
  clickhouseDatabase: string;
}

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/switchyard';
export const DEFAULT_CLICKHOUSE_URL = 'http://127.0.0.1:8123';

export function loadConnectionConfig(env: Env = process.env): ConnectionConfig {
  return {
    natsUrl: envString(env, 'NATS_URL', DEFAULT_NATS_URL),
    databaseUrl: envString(env, 'DATABASE_URL', DEFAULT_DATABASE_URL),
    clickhouseUrl: envString(env, 'CLICKHOUSE_URL', DEFAULT_CLICKHOUSE_URL),
    clickhouseDatabase: envString(env, 'CLICKHOUSE_DATABASE', 'switchyard'),
  };
}

/** Removes user:password from a URL before it is logged. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable url)';
  }
}
