import { attemptSchema, type UsageAttempt } from '@switchyard/contracts';
import { formatDate, formatDateTime, identifier, sql, type ClickHouseClient, type SqlFragment } from '@switchyard/clickhouse';
import type { Logger } from '@switchyard/telemetry';
import type { ClusterChannelBook, ObservedRequest } from './cluster-channel.book';

/** The stats service's raw table (services/stats/src/usage.table.ts). */
export const USAGE_EVENTS_TABLE = 'usage_events';

/** One row of the rebuild query. */
export interface RebuildRow {
  request_id: string;
  model_requested: string;
  channel_id: string;
  /** Seconds since the epoch of occurred_at (DateTime('UTC')). */
  occurred_at_s: number;
  occurred_at_ms: number;
  output_tokens: number;
  /** JSON array of the attempts, as in the event. */
  attempts: string;
}

/**
 * The newest `limit` requests since `since`, newest first (the caller
 * replays them oldest first). Runs on ClickHouse 18.16 and current
 * releases: literals through the escape helper, a DateTime compared with a
 * 'YYYY-MM-DD hh:mm:ss' string, event_date for partition pruning.
 */
export function rebuildQuery(since: Date, limit: number): SqlFragment {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  return sql`SELECT request_id, model_requested, channel_id, toUnixTimestamp(occurred_at) AS occurred_at_s, occurred_at_ms, output_tokens, attempts
FROM ${identifier(USAGE_EVENTS_TABLE)}
WHERE event_date >= ${formatDate(since)} AND occurred_at >= ${formatDateTime(since)}
ORDER BY occurred_at DESC, occurred_at_ms DESC
LIMIT ${limit}`;
}

const attemptsSchema = attemptSchema.array();

/** A row as the book takes it; null (with the reason) when its attempts are not valid JSON of attempts. */
export function rowToRequest(r: RebuildRow): { ok: true; value: ObservedRequest } | { ok: false; reason: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(r.attempts);
  } catch (e) {
    return { ok: false, reason: `attempts is not JSON: ${(e as Error).message}` };
  }
  const attempts = attemptsSchema.safeParse(raw);
  if (!attempts.success) return { ok: false, reason: `attempts: ${attempts.error.issues[0]?.message ?? 'invalid'}` };
  return {
    ok: true,
    value: {
      request_id: r.request_id,
      model_requested: r.model_requested,
      channel_id: r.channel_id,
      occurred_at_ms: Number(r.occurred_at_s) * 1000 + Number(r.occurred_at_ms),
      output_tokens: Number(r.output_tokens),
      attempts: attempts.data as UsageAttempt[],
    },
  };
}

export interface RebuildResult {
  rows: number;
  applied: number;
  skipped: number;
  /** Set when ClickHouse could not be read: the router starts with what it has. */
  error?: string;
}

/**
 * Replays the last `minutes` of usage from ClickHouse into the book, oldest
 * first, so a restarted router knows the channels before the first new
 * event. ClickHouse down or the table missing: logged, the book stays as it is.
 */
export async function rebuildFromClickHouse(
  client: ClickHouseClient,
  book: ClusterChannelBook,
  opts: { minutes: number; maxEvents: number; now: () => number; log: Logger },
): Promise<RebuildResult> {
  const since = new Date(opts.now() - opts.minutes * 60_000);
  let rows: RebuildRow[];
  try {
    const rs = await client.query({ query: rebuildQuery(since, opts.maxEvents).text, format: 'JSONEachRow' });
    rows = await rs.json<RebuildRow>();
  } catch (e) {
    const error = (e as Error).message;
    opts.log.warn({ err: error }, 'could not rebuild channel state from ClickHouse; starting empty');
    return { rows: 0, applied: 0, skipped: 0, error };
  }
  let applied = 0;
  let skipped = 0;
  for (let i = rows.length - 1; i >= 0; i--) {
    const parsed = rowToRequest(rows[i]!);
    if (!parsed.ok) {
      skipped += 1;
      continue;
    }
    if (book.apply(parsed.value) === 'applied') applied += 1;
    else skipped += 1;
  }
  opts.log.info({ rows: rows.length, applied, skipped, minutes: opts.minutes }, 'channel state rebuilt from ClickHouse');
  return { rows: rows.length, applied, skipped };
}
