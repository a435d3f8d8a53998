import {
  createClickHouse,
  dropDatabase,
  identifier,
  sql,
  type ClickHouseClient,
  type ClickHouseOptions,
} from '@switchyard/clickhouse';

/** The test ClickHouse (CLICKHOUSE_URL / CLICKHOUSE_DATABASE, set by the integration project). */
export function testClickHouseOptions(): ClickHouseOptions {
  return {
    url: process.env.CLICKHOUSE_URL ?? 'http://127.0.0.1:8123',
    database: process.env.CLICKHOUSE_DATABASE ?? 'switchyard_test',
  };
}

/** Drops and recreates the test database; returns a client bound to it. */
export async function resetClickHouse(opts: ClickHouseOptions = testClickHouseOptions()): Promise<ClickHouseClient> {
  if (!/test/.test(opts.database)) throw new Error(`refusing to drop "${opts.database}": not a test database`);
  await dropDatabase(opts);
  return createClickHouse(opts);
}

/** Rows of a SELECT, as JSON objects. */
export async function selectRows<T = Record<string, unknown>>(client: ClickHouseClient, query: string): Promise<T[]> {
  const rs = await client.query({ query, format: 'JSONEachRow' });
  return rs.json<T>();
}

export async function countRows(client: ClickHouseClient, table: string, where = '1'): Promise<number> {
  const [row] = await selectRows<{ n: string }>(client, `${sql`SELECT count() AS n FROM ${identifier(table)}`.text} WHERE ${where}`);
  return Number(row?.n ?? 0);
}
