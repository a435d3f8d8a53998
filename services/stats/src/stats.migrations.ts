import type { Migration } from '@switchyard/clickhouse';
import { USAGE_EVENTS_TABLE } from './usage.table';

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
 * - No TTL yet: retention (TTL event_date + INTERVAL n MONTH, plus per-minute
 *   rollups kept longer) is a later migration.
 */
export const STATS_MIGRATIONS: Migration[] = [
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
  },
];
