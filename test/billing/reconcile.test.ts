import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import type { NatsConnection } from '@nats-io/transport-node';
import { runMigrations, type ClickHouseClient } from '@switchyard/clickhouse';
import type { UsageEventV1 } from '@switchyard/contracts';
import { STATS_MIGRATIONS } from '../../services/stats/src/stats.migrations';
import { toUsageRow, USAGE_EVENTS_TABLE } from '../../services/stats/src/usage.table';
import type { DB } from '../../services/billing/src/db/database';
import { createAccount, createChannel, reconcileLedger, setPrice } from '../../services/billing/src/admin.commands';
import { settleUsageBatch } from '../../services/billing/src/ledger/usage.settlement';
import { runAdmin, EXIT_DISCREPANCIES, EXIT_OK } from '../../services/billing/src/admin.program';
import { ACME, adminDeps, connectTestNats, freshBillingDb, usageEvent } from '../support/billing';
import { resetClickHouse } from '../support/clickhouse';

const T0 = Date.parse('2026-03-01T12:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

describe('reconciliation: ledger vs ClickHouse usage_events', () => {
  let db: Kysely<DB>;
  let nc: NatsConnection;
  let ch: ClickHouseClient;

  const insertCh = async (events: UsageEventV1[]) => {
    await ch.insert({ table: USAGE_EVENTS_TABLE, values: events.map((e) => toUsageRow(e, new Date())), format: 'JSONEachRow' });
  };
  const cli = async (argv: string[]) => {
    const out: string[] = [];
    const code = await runAdmin(argv, { ...adminDeps(db, nc), clickhouse: () => ch }, { stdout: (l) => out.push(l), stderr: (l) => out.push(l) });
    return { code, out: out.join('\n') };
  };

  beforeAll(async () => {
    nc = await connectTestNats();
    db = await freshBillingDb();
    ch = await resetClickHouse();
    await runMigrations(ch, STATS_MIGRATIONS);
    const deps = adminDeps(db, nc);
    await createAccount(deps, { id: ACME, balance_usd: '10' });
    await createChannel(deps, { id: 'fast', provider: 'openai', base_url: 'http://127.0.0.1:9/v1', models: ['gpt-4o-mini'] });
    await setPrice(deps, { channel: 'fast', model: 'gpt-4o-mini', input_usd_per_mtok: '0.15', output_usd_per_mtok: '0.60', effective_from: iso(T0 - 86_400_000) });
  });
  afterAll(async () => {
    await ch?.close();
    await db?.destroy();
    await nc?.drain();
  });

  it('is clean when both sides hold the same requests, and finds a planted missing row and cost mismatch', async () => {
    // Millisecond times on purpose: ClickHouse keeps seconds + a ms column, the range is cut exactly.
    const events = Array.from({ length: 20 }, (_, i) => usageEvent({ occurred_at: iso(T0 + i * 1_537 + 123) }));
    await settleUsageBatch(db, events);
    await insertCh(events);
    const from = iso(T0);
    const to = iso(T0 + 3_600_000);

    const clean = await reconcileLedger({ db, clickhouse: () => ch }, { from, to });
    expect(clean).toMatchObject({ ledger_requests: 20, clickhouse_requests: 20, clean: true, missing_in_clickhouse: [], missing_in_ledger: [], cost_mismatches: [] });
    expect((await cli(['reconcile', '--from', from, '--to', to])).code).toBe(EXIT_OK);

    // Planted: one request booked but never stored in ClickHouse, one stored but never booked,
    // and one whose ClickHouse row carries another cost than the event billing settled.
    const onlyLedger = usageEvent({ occurred_at: iso(T0 + 60_000) });
    const onlyCh = usageEvent({ occurred_at: iso(T0 + 61_000) });
    const mismatch = usageEvent({ occurred_at: iso(T0 + 62_000), cost_nano: 450_000 });
    await settleUsageBatch(db, [onlyLedger, mismatch]);
    await insertCh([onlyCh, { ...mismatch, cost_nano: 999_999 }]);
    // Outside the range on both sides: ignored.
    const outside = usageEvent({ occurred_at: iso(T0 + 3_600_000) });
    await insertCh([outside]);

    const r = await reconcileLedger({ db, clickhouse: () => ch }, { from, to });
    expect(r.clean).toBe(false);
    expect(r.missing_in_clickhouse.map((d) => d.request_id)).toEqual([onlyLedger.request_id]);
    expect(r.missing_in_ledger).toEqual([
      { request_id: onlyCh.request_id, account_id: ACME, ledger_estimate_nano: null, ledger_charged_nano: null, clickhouse_cost_nano: 450_000n },
    ]);
    expect(r.cost_mismatches).toEqual([
      { request_id: mismatch.request_id, account_id: ACME, ledger_estimate_nano: 450_000n, ledger_charged_nano: 450_000n, clickhouse_cost_nano: 999_999n },
    ]);

    const run = await cli(['reconcile', '--from', from, '--to', to]);
    expect(run.code).toBe(EXIT_DISCREPANCIES);
    expect(run.out).toContain(`missing in ClickHouse  ${onlyLedger.request_id}`);
    expect(run.out).toContain(`missing in ledger  ${onlyCh.request_id}`);
    expect(run.out).toContain(`cost mismatch  ${mismatch.request_id}`);
  });

  it('refuses a bad range', async () => {
    const r = await cli(['reconcile', '--from', '2026-03-02', '--to', '2026-03-01']);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/--from must be before --to/);
  });
});
