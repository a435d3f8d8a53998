import { Client } from 'pg';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { PLAN_BUCKET, USAGE_DLQ_STREAM, USAGE_STREAM } from '@switchyard/contracts';

export interface InfraUrls {
  natsUrl: string;
  databaseUrl: string;
  clickhouseUrl: string;
  clickhouseDatabase: string;
}

export function testInfraUrls(env: Record<string, string | undefined> = process.env): InfraUrls {
  return {
    natsUrl: env.NATS_URL || 'nats://127.0.0.1:4222',
    databaseUrl: env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/switchyard_test',
    clickhouseUrl: env.CLICKHOUSE_URL || 'http://127.0.0.1:8123',
    clickhouseDatabase: env.CLICKHOUSE_DATABASE || 'switchyard_test',
  };
}

/** Runs one statement on ClickHouse over plain HTTP. */
export async function clickhouseQuery(clickhouseUrl: string, sql: string): Promise<string> {
  const r = await fetch(`${clickhouseUrl}/`, { method: 'POST', body: sql });
  const text = await r.text();
  if (!r.ok) throw new Error(`ClickHouse: ${text.slice(0, 500)}`);
  return text;
}

/**
 * Empties what the services keep: the Postgres schema, the ClickHouse
 * database, the usage streams and the plan bucket. Test infrastructure only —
 * never point it at a real deployment.
 */
export async function resetInfrastructure(urls: InfraUrls): Promise<void> {
  if (!/test/.test(urls.databaseUrl) || !/test/.test(urls.clickhouseDatabase)) {
    throw new Error('refusing to reset databases whose names do not contain "test"');
  }
  const pg = new Client({ connectionString: urls.databaseUrl });
  await pg.connect();
  try {
    await pg.query('DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;');
  } finally {
    await pg.end();
  }
  await clickhouseQuery(urls.clickhouseUrl, `DROP DATABASE IF EXISTS \`${urls.clickhouseDatabase.replace(/`/g, '')}\``);
  const nc = await connect({ servers: urls.natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    for (const s of [USAGE_STREAM, USAGE_DLQ_STREAM, `KV_${PLAN_BUCKET}`, 'KV_switchyard_ratelimits']) {
      await jsm.streams.delete(s).catch(() => false);
    }
  } finally {
    await nc.close();
  }
}
