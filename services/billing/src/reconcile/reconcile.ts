import { formatDateTime, identifier, sql as chSql, type ClickHouseClient } from '@switchyard/clickhouse';
import type { Db } from '../db/database';
import { nanoFromDb } from '../money';

/** The stats service's table of usage rows (one per request id, ReplacingMergeTree). */
export const USAGE_EVENTS_TABLE = 'usage_events';

export interface ReconcileDiscrepancy {
  request_id: string;
  account_id: string;
  /** What the ledger holds: ingress's estimate (as published) and billing's authoritative charge. */
  ledger_estimate_nano: bigint | null;
  ledger_charged_nano: bigint | null;
  clickhouse_cost_nano: bigint | null;
}

export interface ReconcileReport {
  from: Date;
  to: Date;
  ledger_requests: number;
  clickhouse_requests: number;
  /** Booked in the ledger, no row in ClickHouse. */
  missing_in_clickhouse: ReconcileDiscrepancy[];
  /** A row in ClickHouse, never booked. */
  missing_in_ledger: ReconcileDiscrepancy[];
  /** In both, but the published cost (or account) differs: the two stores saw different events. */
  cost_mismatches: ReconcileDiscrepancy[];
  /** In both and consistent, but billing charged a different amount than ingress estimated (price history, group multiplier): informational. */
  repriced: { count: number; charged_minus_estimate_nano: bigint };
  clean: boolean;
}

interface LedgerSide {
  account_id: string;
  estimate: bigint;
  charged: bigint;
  explicitEstimate: boolean;
}

/**
 * Compares, for usage that occurred in [from, to), the ledger's usage entries
 * with the ClickHouse `usage_events` rows, by request id. ClickHouse stores
 * seconds plus a millisecond column, so its range is read one second wider
 * and cut exactly in code. Duplicated rows of a request id (not merged yet)
 * collapse to the latest write, as the table's engine would.
 */
export async function reconcile(db: Db, ch: ClickHouseClient, range: { from: Date; to: Date }): Promise<ReconcileReport> {
  const { from, to } = range;
  const ledgerRows = await db
    .selectFrom('ledger')
    .select(['request_id', 'account_id', 'amount_nano', 'estimate_nano'])
    .where('kind', '=', 'usage')
    .where('occurred_at', '>=', from)
    .where('occurred_at', '<', to)
    .execute();
  const ledger = new Map<string, LedgerSide>();
  for (const r of ledgerRows) {
    const charged = -nanoFromDb(r.amount_nano);
    ledger.set(r.request_id, {
      account_id: r.account_id,
      charged,
      estimate: r.estimate_nano === null ? charged : nanoFromDb(r.estimate_nano),
      explicitEstimate: r.estimate_nano !== null,
    });
  }

  const q = chSql`SELECT request_id, argMax(account_id, inserted_at) AS account_id, argMax(cost_nano, inserted_at) AS cost_nano,
  argMax(toUInt64(occurred_at) * 1000 + occurred_at_ms, inserted_at) AS at_ms
FROM ${identifier(USAGE_EVENTS_TABLE)}
WHERE occurred_at >= ${formatDateTime(new Date(Math.floor(from.getTime() / 1000) * 1000))}
  AND occurred_at <= ${formatDateTime(to)}
GROUP BY request_id`;
  const rs = await ch.query({ query: q.text, format: 'JSONEachRow' });
  const chRows = (await rs.json<{ request_id: string; account_id: string; cost_nano: string | number; at_ms: string | number }>()).filter((r) => {
    const at = Number(r.at_ms);
    return at >= from.getTime() && at < to.getTime();
  });

  const report: ReconcileReport = {
    from,
    to,
    ledger_requests: ledger.size,
    clickhouse_requests: chRows.length,
    missing_in_clickhouse: [],
    missing_in_ledger: [],
    cost_mismatches: [],
    repriced: { count: 0, charged_minus_estimate_nano: 0n },
    clean: true,
  };
  const seen = new Set<string>();
  for (const r of chRows) {
    seen.add(r.request_id);
    const cost = nanoFromDb(typeof r.cost_nano === 'number' ? r.cost_nano : r.cost_nano);
    const l = ledger.get(r.request_id);
    if (!l) {
      report.missing_in_ledger.push({ request_id: r.request_id, account_id: r.account_id, ledger_estimate_nano: null, ledger_charged_nano: null, clickhouse_cost_nano: cost });
      continue;
    }
    if (l.estimate !== cost || l.account_id !== r.account_id) {
      report.cost_mismatches.push({ request_id: r.request_id, account_id: l.account_id, ledger_estimate_nano: l.estimate, ledger_charged_nano: l.charged, clickhouse_cost_nano: cost });
    } else if (l.explicitEstimate && l.charged !== l.estimate) {
      report.repriced.count++;
      report.repriced.charged_minus_estimate_nano += l.charged - l.estimate;
    }
  }
  for (const [id, l] of ledger) {
    if (seen.has(id)) continue;
    report.missing_in_clickhouse.push({ request_id: id, account_id: l.account_id, ledger_estimate_nano: l.estimate, ledger_charged_nano: l.charged, clickhouse_cost_nano: null });
  }
  const byId = (a: ReconcileDiscrepancy, b: ReconcileDiscrepancy) => (a.request_id < b.request_id ? -1 : a.request_id > b.request_id ? 1 : 0);
  report.missing_in_clickhouse.sort(byId);
  report.missing_in_ledger.sort(byId);
  report.cost_mismatches.sort(byId);
  report.clean = report.missing_in_clickhouse.length === 0 && report.missing_in_ledger.length === 0 && report.cost_mismatches.length === 0;
  return report;
}
