import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addColumnIfMissing,
  appliedVersions,
  identifier,
  literal,
  literalList,
  quoteIdentifier,
  runMigrations,
  sql,
  type ClickHouseClient,
} from '@switchyard/clickhouse';
import { STATS_MIGRATIONS } from '../../services/stats/src/stats.migrations';
import { resetClickHouse, selectRows } from '../support/clickhouse';

let ch: ClickHouseClient;

beforeAll(async () => {
  ch = await resetClickHouse();
});
afterAll(async () => {
  await ch?.close();
});

const NASTY: Array<[string, string]> = [
  ['empty', ''],
  ['single quote', "it's"],
  ['only quotes', "''''"],
  ['backslashes', '\\\\ \\ \\n (not a newline)'],
  ['backslash then quote', "\\'"],
  ['trailing backslash', 'end\\'],
  ['real newlines and tabs', 'a\nb\r\nc\td'],
  ['NUL then digits', 'x\x00123\x00'],
  ['all C0 controls and DEL', Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).join('') + '\x7f'],
  ['unicode', 'é ß 日本語 😀 \u2028\u2029 \uFEFF'],
  ['injection: OR', "' OR '1'='1"],
  ['injection: union', "x' UNION ALL SELECT name FROM system.tables --"],
  ['injection: escaped quote trick', "\\' OR 1=1 --"],
  ['injection: comment', "'/* x */; DROP DATABASE switchyard_test; --"],
  ['placeholder syntax', '{request_id:String} ? $1 :name'],
  ['backticks and double quotes', '`"`"'],
];

describe('the escaping helper against a real ClickHouse', () => {
  it.each(NASTY)('round-trips %s through a SELECT', async (_name, s) => {
    const [row] = await selectRows<{ s: string; n: string }>(ch, sql`SELECT ${s} AS s, length(${s}) AS n`.text);
    expect(row!.s).toBe(s);
    expect(Number(row!.n)).toBe(Buffer.byteLength(s, 'utf8'));
  });

  it('matches nasty strings in an IN list, and nothing else', async () => {
    const values = NASTY.map(([, s]) => s);
    const query = sql`SELECT arrayJoin(${values}) AS v WHERE v IN ${literalList(values.slice(0, 5))}`;
    const rows = await selectRows<{ v: string }>(ch, query.text);
    expect(rows.map((r) => r.v)).toEqual(values.slice(0, 5));
  });

  it('round-trips numbers, bigints, booleans, dates, nulls and arrays', async () => {
    const when = new Date('2025-03-04T05:06:07.890Z');
    const query = `SELECT ${literal(-5)} AS neg, 1 - ${literal(-5)} AS minus_neg, ${literal(1.25)} AS f,
      toString(${literal(-9223372036854775808n)}) AS big, ${literal(true)} AS t,
      toString(toDateTime(${literal(when)}, 'UTC')) AS d, isNull(${literal(null)}) AS nul, ${literal(['a', "b'", '\\'])} AS arr`;
    const [row] = await selectRows<Record<string, unknown>>(ch, query);
    expect(row).toEqual({
      neg: -5,
      minus_neg: 6,
      f: 1.25,
      big: '-9223372036854775808',
      t: 1,
      d: '2025-03-04 05:06:07',
      nul: 1,
      arr: ['a', "b'", '\\'],
    });
  });

  it('quotes identifiers with backticks, backslashes and spaces', async () => {
    const table = 'we`ird\\ table';
    const column = "col'umn `x`";
    await ch.command({ query: `CREATE TABLE ${quoteIdentifier(table)} (${quoteIdentifier(column)} String) ENGINE = TinyLog` });
    await ch.command({ query: sql`INSERT INTO ${identifier(table)} VALUES (${"v'1"})`.text });
    const rows = await selectRows<Record<string, string>>(ch, sql`SELECT ${identifier(column)} FROM ${identifier(table)}`.text);
    expect(rows).toEqual([{ [column]: "v'1" }]);
    await ch.command({ query: `DROP TABLE ${quoteIdentifier(table)}` });
  });
});

describe('migrations', () => {
  it('create usage_events and the rollups in an empty database, then do nothing the second time', async () => {
    const fresh = await resetClickHouse();
    const all = ['0001_usage_events', '0002_retention_and_minute_rollups', '2026_11_26_cache_write_input_tokens', '2026_11_26_usage_request_ids'];
    try {
      expect(await appliedVersions(fresh)).toEqual([]);
      expect(await runMigrations(fresh, STATS_MIGRATIONS)).toEqual(all);
      expect(await runMigrations(fresh, STATS_MIGRATIONS)).toEqual([]);
      expect(await appliedVersions(fresh)).toEqual(all);

      const [table] = await selectRows<{ engine: string; partition_key: string; sorting_key: string }>(
        fresh,
        "SELECT engine, partition_key, sorting_key FROM system.tables WHERE database = currentDatabase() AND name = 'usage_events'",
      );
      expect(table).toEqual({
        engine: 'ReplacingMergeTree',
        partition_key: 'toYYYYMM(event_date)',
        sorting_key: 'account_id, event_date, request_id',
      });
      const columns = await selectRows<{ name: string; type: string }>(
        fresh,
        "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = 'usage_events'",
      );
      const types = Object.fromEntries(columns.map((c) => [c.name, c.type]));
      expect(types).toMatchObject({
        request_id: 'String',
        occurred_at: "DateTime('UTC')",
        occurred_at_ms: 'UInt16',
        event_date: 'Date',
        ttft_ms: 'Nullable(Float64)',
        cost_nano: 'Int64',
        attempts: 'String',
        attempt_count: 'UInt8',
        inserted_at: "DateTime('UTC')",
        cache_write_input_tokens: 'UInt32',
      });
      expect(columns).toHaveLength(32);
      const [{ n }] = (await selectRows<{ n: string }>(fresh, 'SELECT count() AS n FROM schema_migrations')) as [{ n: string }];
      expect(Number(n)).toBe(STATS_MIGRATIONS.length);
      const rollups = await selectRows<{ name: string; engine: string }>(
        fresh,
        "SELECT name, engine FROM system.tables WHERE database = currentDatabase() AND name LIKE 'usage_1m_%' ORDER BY name",
      );
      expect(rollups).toEqual([
        { name: 'usage_1m_by_account', engine: 'AggregatingMergeTree' },
        { name: 'usage_1m_by_account_mv', engine: 'MaterializedView' },
        { name: 'usage_1m_by_channel', engine: 'AggregatingMergeTree' },
        { name: 'usage_1m_by_channel_mv', engine: 'MaterializedView' },
        { name: 'usage_1m_by_model', engine: 'AggregatingMergeTree' },
        { name: 'usage_1m_by_model_mv', engine: 'MaterializedView' },
      ]);
    } finally {
      await fresh.close();
    }
  });

  it('apply only the versions not yet recorded, in order', async () => {
    const migrations = [
      { version: '0001_a', statements: ['CREATE TABLE IF NOT EXISTS mig_a (x UInt8) ENGINE = MergeTree ORDER BY x'] },
      { version: '0002_b', statements: ['CREATE TABLE IF NOT EXISTS mig_b (x UInt8) ENGINE = MergeTree ORDER BY x'] },
    ];
    expect(await runMigrations(ch, migrations.slice(0, 1), { table: 'mig_versions' })).toEqual(['0001_a']);
    expect(await runMigrations(ch, migrations, { table: 'mig_versions' })).toEqual(['0002_b']);
    expect(await appliedVersions(ch, 'mig_versions')).toEqual(['0001_a', '0002_b']);
  });

  it('add a column once: a migration re-run after a crash skips it instead of failing (18.16 has no ADD COLUMN IF NOT EXISTS)', async () => {
    await ch.command({ query: 'CREATE TABLE IF NOT EXISTS mig_cols (x UInt8) ENGINE = MergeTree ORDER BY x' });
    const add = addColumnIfMissing('mig_cols', 'y', 'UInt32 DEFAULT 0');
    expect(await runMigrations(ch, [{ version: '0001_y', statements: [add] }], { table: 'mig_cols_v1' })).toEqual(['0001_y']);
    // The same statement again (as after a crash before the version was recorded).
    expect(await runMigrations(ch, [{ version: '0001_y', statements: [add] }], { table: 'mig_cols_v2' })).toEqual(['0001_y']);
    await ch.insert({ table: 'mig_cols', values: [{ x: 1 }], format: 'JSONEachRow' });
    expect(await selectRows<{ x: number; y: number }>(ch, 'SELECT x, y FROM mig_cols')).toEqual([{ x: 1, y: 0 }]);
  });

  it('refuse versions out of order, without touching the database', async () => {
    await expect(
      runMigrations(ch, [
        { version: '0002', statements: ['SELECT 1'] },
        { version: '0001', statements: ['SELECT 1'] },
      ], { table: 'never_created' }),
    ).rejects.toThrow(/ascending/);
    await expect(appliedVersions(ch, 'never_created')).resolves.toEqual([]);
  });

  it('stop at a failing statement and leave its version unrecorded', async () => {
    const migrations = [{ version: '0001_bad', statements: ['CREATE TABLE broken (x NoSuchType) ENGINE = TinyLog'] }];
    await expect(runMigrations(ch, migrations, { table: 'mig_bad' })).rejects.toThrow();
    expect(await appliedVersions(ch, 'mig_bad')).toEqual([]);
  });
});
