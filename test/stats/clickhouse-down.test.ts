import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@switchyard/bus';
import { USAGE_SUBJECT_V1 } from '@switchyard/contracts';
import { createClickHouseClient, runMigrations, type ClickHouseClient } from '@switchyard/clickhouse';
import { createLogger } from '@switchyard/telemetry';
import { startStats, type StatsHandle } from '../../services/stats/src/stats.app';
import { STATS_MIGRATIONS } from '../../services/stats/src/stats.migrations';
import { countRows, resetClickHouse, testClickHouseOptions } from '../support/clickhouse';
import { resetUsageBus, usageEvent, waitFor, watchStatsAcks } from './helpers';

let ch: ClickHouseClient;
let nc: NatsConnection;
const logger = createLogger('stats-test', 'silent');

beforeAll(async () => {
  ch = await resetClickHouse();
  // The schema exists (a previous run made it); only the server is unreachable.
  await runMigrations(ch, STATS_MIGRATIONS);
  nc = await resetUsageBus();
});
afterAll(async () => {
  await nc?.drain();
  await ch?.close();
});

describe('when ClickHouse is unreachable', () => {
  it('acks nothing, and stores every event exactly once after ClickHouse is back', async () => {
    // A port nothing listens on: every insert fails at connect, as with a stopped server.
    const unreachable = createClickHouseClient({ ...testClickHouseOptions(), url: 'http://127.0.0.1:1' });
    const down: StatsHandle = await startStats({
      clickhouse: unreachable,
      migrate: false,
      logger,
      config: { port: 0, host: '127.0.0.1', batchWaitMs: 1000 },
    });
    const events = [usageEvent(), usageEvent(), usageEvent({ status: 'error', http_status: 502, error_class: 'transient' })];
    const acks = watchStatsAcks(nc);
    const seqs: number[] = [];
    try {
      const ready = await fetch(`${down.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({ status: 'unavailable', clickhouse: 'down', nats: 'ok' });
      const summary = await fetch(`${down.url}/v1/stats/summary`);
      expect(summary.status).toBe(503);
      expect(await summary.json()).toEqual({
        error: { message: expect.any(String), type: 'server_error', code: 'store_unavailable' },
      });

      const js = jetstream(nc);
      for (const e of events) seqs.push((await js.publish(USAGE_SUBJECT_V1, JSON.stringify(e), { msgID: e.request_id })).seq);
      // Each delivered, nak'ed, delivered again and nak'ed again: the failure path ran twice, nothing was acked.
      await waitFor('two naks of every event', () => seqs.every((seq) => acks.kinds(seq).filter((k) => k === 'nak').length >= 2), 20_000);
      for (const seq of seqs) expect(acks.kinds(seq)).not.toContain('ack');
    } finally {
      await down.close();
      await unreachable.close();
    }
    for (const e of events) expect(await countRows(ch, 'usage_events', `request_id = '${e.request_id}'`)).toBe(0);

    // ClickHouse "comes back": the service restarts with a working client.
    const up = await startStats({ logger, config: { port: 0, host: '127.0.0.1', batchWaitMs: 1000 } });
    try {
      for (const e of events) {
        await waitFor(`${e.request_id} stored`, async () => (await countRows(ch, 'usage_events', `request_id = '${e.request_id}'`)) === 1, 30_000);
      }
      await waitFor('every event acked', () => seqs.every((seq) => acks.kinds(seq).includes('ack')), 30_000);
      for (const seq of seqs) expect(acks.kinds(seq).filter((k) => k === 'ack')).toHaveLength(1);
      // Still once each, after the acks.
      for (const e of events) expect(await countRows(ch, 'usage_events', `request_id = '${e.request_id}'`)).toBe(1);
      const ready = await fetch(`${up.url}/readyz`);
      expect(ready.status).toBe(200);
    } finally {
      await up.close();
      acks.stop();
    }
  });
});
