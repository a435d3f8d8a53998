import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@switchyard/bus';
import type { ClickHouseClient } from '@switchyard/clickhouse';
import { DLQ_REASON_HEADER, USAGE_DLQ_STREAM, USAGE_SUBJECT_V1 } from '@switchyard/contracts';
import { createLogger } from '@switchyard/telemetry';
import { startStats, type StatsHandle } from '../../services/stats/src/stats.app';
import { countRows, resetClickHouse } from '../support/clickhouse';
import { resetUsageBus, usageEvent, waitFor, watchStatsAcks } from './helpers';

let ch: ClickHouseClient;
let nc: NatsConnection;
let stats: StatsHandle;

beforeAll(async () => {
  ch = await resetClickHouse();
  nc = await resetUsageBus();
  stats = await startStats({ logger: createLogger('stats-test', 'silent'), config: { port: 0, host: '127.0.0.1', batchWaitMs: 1000 } });
});
afterAll(async () => {
  await stats?.close();
  await nc?.drain();
  await ch?.close();
});

describe('invalid usage events', () => {
  it('go to the dead-letter stream with a reason, never into ClickHouse, and do not hold up valid ones', async () => {
    const js = jetstream(nc);
    const acks = watchStatsAcks(nc);
    const invalid = { ...usageEvent(), cost_nano: -5, usage: { input_tokens: 'many' } };
    const valid = usageEvent();
    const invalidSeq = (await js.publish(USAGE_SUBJECT_V1, JSON.stringify(invalid), { msgID: invalid.request_id })).seq;
    const garbage = `{not json ${valid.request_id}`;
    const garbageSeq = (await js.publish(USAGE_SUBJECT_V1, garbage, { msgID: `garbage-${valid.request_id}` })).seq;
    const validSeq = (await js.publish(USAGE_SUBJECT_V1, JSON.stringify(valid), { msgID: valid.request_id })).seq;

    const jsm = await jetstreamManager(nc);
    // The bus is shared with other suites: find our dead letters by content, not by position.
    const deadLetters = async () => {
      const last = (await jsm.streams.info(USAGE_DLQ_STREAM)).state.last_seq;
      const out: Array<{ body: string; reason: string | undefined }> = [];
      for (let seq = 1; seq <= last; seq++) {
        const m = await jsm.streams.getMessage(USAGE_DLQ_STREAM, { seq }).catch(() => null);
        if (m) out.push({ body: m.string(), reason: m.header?.get(DLQ_REASON_HEADER) });
      }
      return out;
    };
    const [forInvalid, forGarbage] = await waitFor('both dead letters', async () => {
      const all = await deadLetters();
      const a = all.find((d) => d.body.includes(invalid.request_id));
      const b = all.find((d) => d.body === garbage);
      return a && b ? [a, b] : undefined;
    });
    expect(forInvalid!.reason).toMatch(/cost_nano|usage\.input_tokens/);
    expect(forGarbage!.reason).toMatch(/invalid JSON/);

    await waitFor('the valid event stored', async () => (await countRows(ch, 'usage_events', `request_id = '${valid.request_id}'`)) === 1);
    expect(await countRows(ch, 'usage_events', `request_id = '${invalid.request_id}'`)).toBe(0);
    // Dead letters are terminated, the valid event acked.
    await waitFor('the acks', () => acks.kinds(validSeq).includes('ack'));
    expect(acks.kinds(invalidSeq)).toEqual(['term']);
    expect(acks.kinds(garbageSeq)).toEqual(['term']);
    acks.stop();
    // Not asserted: that the server then drops them from the ack-pending list.
    // libs/bus sends `+TERM <reason>`, which nats-server 2.9 (Debian's) does not
    // understand, so they come back after ack_wait and are dead-lettered again
    // (deduplicated by the DLQ stream for 2 minutes).
    expect(await countRows(ch, 'usage_events', `request_id = '${invalid.request_id}'`)).toBe(0);
  });
});
