import { addColumnIfMissing, quoteIdentifier, type Migration } from '@switchyard/clickhouse';
import { USAGE_EVENTS_TABLE, USAGE_REQUEST_IDS_TABLE } from './usage.table';

/**
 * ClickHouse schema of the stats service. Every statement runs on 18.16 and
 * on current releases: DateTime('UTC') plus a millisecond column instead of
 * DateTime64, the PARTITION BY / ORDER BY MergeTree syntax, no settings or
 * functions newer than 18.16.
 *
 * usage_events
 * - One row per request id. ReplacingMergeTree(inserted_at) collapses a
 *   duplicate that slipped past the consumer's check (two replicas racing on
 *   a redelivery) when parts merge; exact-once counting before a merge relies
 *   on that check, not on FINAL.
 * - ORDER BY (account_id, event_date, request_id): billing and per-account
 *   queries read one account's range by day; the consumer's duplicate check
 *   filters on all three columns, so it reads only the granules of those
 *   keys. Per-channel/model queries over recent windows are pruned by the
 *   monthly partition and the event_date minmax index.
 * - ttft_ms and tokens_per_second are Nullable(Float64): NULL when no first
 *   token arrived (or the rate is unknown), so quantiles skip them rather
 *   than counting a sentinel.
 * - Retention and per-minute rollups come with 0002 (see statsMigrations).
 */
const MIGRATION_0001: Migration =
  {
    version: '0001_usage_events',
    statements: [
      `CREATE TABLE IF NOT EXISTS ${USAGE_EVENTS_TABLE} (
  request_id String,
  occurred_at DateTime('UTC'),
  occurred_at_ms UInt16,
  event_date Date,
  trace_id String,
  key_id String,
  account_id String,
  model_requested String,
  model_served String,
  channel_id String,
  provider String,
  route_mode String,
  stream UInt8,
  status String,
  http_status UInt16,
  error_class String,
  input_tokens UInt32,
  output_tokens UInt32,
  cached_input_tokens UInt32,
  reasoning_tokens UInt32,
  usage_estimated UInt8,
  ttft_ms Nullable(Float64),
  latency_ms Float64,
  tokens_per_second Nullable(Float64),
  price_input_nano_per_mtok Int64,
  price_output_nano_per_mtok Int64,
  price_cached_input_nano_per_mtok Int64,
  cost_nano Int64,
  attempts String,
  attempt_count UInt8,
  inserted_at DateTime('UTC')
) ENGINE = ReplacingMergeTree(inserted_at)
PARTITION BY toYYYYMM(event_date)
ORDER BY (account_id, event_date, request_id)`,
    ],
  };

/** Default days of raw usage kept (STATS_RETENTION_DAYS). */
export const DEFAULT_RETENTION_DAYS = 400;

/** Table TTL exists from ClickHouse 19.6; 18.16 parses no TTL clause at all. */
export const TTL_MIN_SERVER_VERSION = '19.6';

/** A per-minute rollup table and the dimensions it is kept by. */
export interface RollupSpec {
  table: string;
  view: string;
  /** Dimension columns of usage_events, in sort-key order (minute comes last). */
  dimensions: readonly string[];
}

/**
 * Per-minute rollups, each kept by a materialized view on usage_events.
 * error_class is a dimension of each ('' for successes), so errors by class
 * come straight from them.
 */
export const ROLLUPS = {
  channel: { table: 'usage_1m_by_channel', view: 'usage_1m_by_channel_mv', dimensions: ['channel_id', 'provider', 'model_requested', 'error_class'] },
  model: { table: 'usage_1m_by_model', view: 'usage_1m_by_model_mv', dimensions: ['model_requested', 'error_class'] },
  account: { table: 'usage_1m_by_account', view: 'usage_1m_by_account_mv', dimensions: ['account_id', 'key_id', 'model_requested', 'error_class'] },
} as const satisfies Record<string, RollupSpec>;

/**
 * The aggregate columns every rollup holds: name, AggregateFunction type and
 * the -State expression over usage_events. Percentiles are t-digest states
 * (mergeable across minutes); they cover successful requests only, like the
 * raw summary.
 */
export const ROLLUP_AGGREGATES: ReadonlyArray<{ name: string; type: string; state: string }> = [
  { name: 'requests', type: 'AggregateFunction(count)', state: 'countState()' },
  { name: 'errors', type: 'AggregateFunction(sum, UInt64)', state: "sumState(toUInt64(status = 'error'))" },
  { name: 'input_tokens', type: 'AggregateFunction(sum, UInt64)', state: 'sumState(toUInt64(input_tokens))' },
  { name: 'output_tokens', type: 'AggregateFunction(sum, UInt64)', state: 'sumState(toUInt64(output_tokens))' },
  { name: 'cached_input_tokens', type: 'AggregateFunction(sum, UInt64)', state: 'sumState(toUInt64(cached_input_tokens))' },
  { name: 'reasoning_tokens', type: 'AggregateFunction(sum, UInt64)', state: 'sumState(toUInt64(reasoning_tokens))' },
  { name: 'cost_nano', type: 'AggregateFunction(sum, Int64)', state: 'sumState(cost_nano)' },
  {
    name: 'latency_ms_q',
    type: 'AggregateFunction(quantilesTDigestIf(0.5, 0.95), Float64, UInt8)',
    state: "quantilesTDigestIfState(0.5, 0.95)(latency_ms, status = 'ok')",
  },
  {
    name: 'ttft_ms_q',
    type: 'AggregateFunction(quantilesTDigestIf(0.5, 0.95), Float64, UInt8)',
    state: "quantilesTDigestIfState(0.5, 0.95)(ifNull(ttft_ms, 0), status = 'ok' AND isNotNull(ttft_ms))",
  },
  {
    name: 'tokens_per_second_avg',
    type: 'AggregateFunction(avgIf, Float64, UInt8)',
    state: "avgIfState(ifNull(tokens_per_second, 0), status = 'ok' AND isNotNull(tokens_per_second))",
  },
];

function rollupStatements(r: RollupSpec, backfillBefore: string): string[] {
  const table = quoteIdentifier(r.table);
  const dims = r.dimensions.map((d) => quoteIdentifier(d));
  const select = `SELECT
  toStartOfMinute(occurred_at) AS minute,
  ${dims.join(',\n  ')},
  ${ROLLUP_AGGREGATES.map((a) => `${a.state} AS ${quoteIdentifier(a.name)}`).join(',\n  ')}
FROM ${quoteIdentifier(USAGE_EVENTS_TABLE)}`;
  const groupBy = `GROUP BY minute, ${dims.join(', ')}`;
  return [
    `CREATE TABLE IF NOT EXISTS ${table} (
  minute DateTime('UTC'),
  ${r.dimensions.map((d) => `${quoteIdentifier(d)} String`).join(',\n  ')},
  ${ROLLUP_AGGREGATES.map((a) => `${quoteIdentifier(a.name)} ${a.type}`).join(',\n  ')}
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (${[...dims, 'minute'].join(', ')})`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${quoteIdentifier(r.view)} TO ${table} AS
${select}
${groupBy}`,
    // Rows stored before the view existed; rows inserted from now on reach the view.
    `INSERT INTO ${table}
${select}
WHERE inserted_at < '${backfillBefore}'
${groupBy}`,
  ];
}

export interface StatsMigrationOptions {
  /** Days of raw usage_events kept (default 400). Read once, when 0002 is applied. */
  retentionDays?: number;
  /** Time of the migration run: the backfill of the rollups covers rows inserted before it. */
  now?: Date;
}

/**
 * The stats schema. 0002 adds
 * - retention of usage_events: `TTL event_date + INTERVAL n DAY` on servers
 *   that have table TTL (19.6+). 18.16 has no TTL syntax in any form (CREATE,
 *   ALTER MODIFY TTL, column TTL all fail to parse), so there the stats
 *   service drops whole monthly partitions past the retention instead
 *   (usage.retention.ts) — which it also does on new servers, harmlessly.
 * - per-minute rollups by channel, model and account (AggregatingMergeTree
 *   fed by materialized views), kept without TTL: they are small and are what
 *   long-window queries read. The rows already stored are backfilled once.
 */
export function statsMigrations(opts: StatsMigrationOptions = {}): Migration[] {
  const days = opts.retentionDays ?? DEFAULT_RETENTION_DAYS;
  if (!Number.isSafeInteger(days) || days < 1) throw new RangeError(`retention days must be a positive integer, got ${days}`);
  const now = opts.now ?? new Date();
  const cutoff = now.toISOString().slice(0, 19).replace('T', ' ');
  return [
    MIGRATION_0001,
    {
      version: '0002_retention_and_minute_rollups',
      statements: [
        {
          sql: `ALTER TABLE ${quoteIdentifier(USAGE_EVENTS_TABLE)} MODIFY TTL event_date + INTERVAL ${days} DAY`,
          minServerVersion: TTL_MIN_SERVER_VERSION,
        },
        ...Object.values(ROLLUPS).flatMap((r) => rollupStatements(r, cutoff)),
      ],
    },
    {
      // usage.v1's optional usage.cache_write_input_tokens (a part of input_tokens). Rows from before read 0.
      version: '2026_11_26_cache_write_input_tokens',
      statements: [addColumnIfMissing(USAGE_EVENTS_TABLE, 'cache_write_input_tokens', 'UInt32 DEFAULT 0')],
    },
    requestIdsMigration(days),
  ];
}

/**
 * usage_request_ids: (occurred_at, request_id) of every usage_events row,
 * written by a materialized view in the same INSERT, sorted by occurred_at.
 * The consumer's duplicate check reads it for the seconds of a batch only
 * (usage_events' own sort key puts request ids of a day in every granule,
 * so checking there read the whole day of the batch's accounts). Repeats in
 * it are harmless (a lookup), so the backfill of rows stored before the view
 * takes everything, whether or not the view already copied some. Retention:
 * the same monthly partitions as usage_events, dropped with them, plus a TTL
 * on servers that have one.
 */
function requestIdsMigration(days: number): Migration {
  const table = quoteIdentifier(USAGE_REQUEST_IDS_TABLE);
  return {
    version: '2026_11_26_usage_request_ids',
    statements: [
      `CREATE TABLE IF NOT EXISTS ${table} (
  occurred_at DateTime('UTC'),
  request_id String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (occurred_at, request_id)`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${quoteIdentifier(`${USAGE_REQUEST_IDS_TABLE}_mv`)} TO ${table} AS
SELECT occurred_at, request_id FROM ${quoteIdentifier(USAGE_EVENTS_TABLE)}`,
      `INSERT INTO ${table} SELECT occurred_at, request_id FROM ${quoteIdentifier(USAGE_EVENTS_TABLE)}`,
      {
        sql: `ALTER TABLE ${table} MODIFY TTL toDate(occurred_at) + INTERVAL ${days} DAY`,
        minServerVersion: TTL_MIN_SERVER_VERSION,
      },
    ],
  };
}

/** The schema with the default retention (tests and tools). */
export const STATS_MIGRATIONS: Migration[] = statsMigrations();
