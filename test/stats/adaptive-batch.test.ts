import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AckPolicy, DeliverPolicy, jetstreamManager } from '@nats-io/jetstream';
import { UsageConsumer, UsagePublisher, type NatsConnection } from '@switchyard/bus';
import { USAGE_STREAM, USAGE_SUBJECT_V1 } from '@switchyard/contracts';
import { resetUsageBus, usageEvent, waitFor } from './helpers';

const DURABLE = 'adaptive-batch-test';
let nc: NatsConnection;
beforeAll(async () => {
  nc = await resetUsageBus();
  const jsm = await jetstreamManager(nc);
  await jsm.consumers.add(USAGE_STREAM, {
    durable_name: DURABLE,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: USAGE_SUBJECT_V1,
  });
});
afterAll(async () => {
  await nc?.drain();
});

async function publish(n: number): Promise<void> {
  const publisher = new UsagePublisher(nc);
  for (let i = 0; i < n; i++) publisher.publish(usageEvent());
  expect(await publisher.flush(30_000)).toBe(true);
  await publisher.close();
}

describe('UsageConsumer batch size (STATS_BATCH_MAX_SIZE)', () => {
  it('grows the batches while a backlog lasts, up to the cap, and is back to the base size once it keeps up', async () => {
    await publish(3000);
    const sizes: number[] = [];
    let handled = 0;
    const consumer = new UsageConsumer(nc, {
      durable: DURABLE,
      pipelined: true,
      batchSize: 250,
      maxBatchSize: 1000,
      maxWaitMs: 1000,
      handle: async (batch) => {
        sizes.push(batch.length);
        handled += batch.length;
      },
    });
    consumer.start();
    try {
      await waitFor('the backlog handled', () => handled === 3000, 30_000);
      // 250, 500, then the cap while the backlog lasts.
      expect(sizes.slice(0, 3)).toEqual([250, 500, 1000]);
      expect(Math.max(...sizes)).toBe(1000);

      // Keeping up: a trickle comes in small batches, and a later burst starts again from the base size.
      const before = sizes.length;
      await publish(10);
      await waitFor('the trickle handled', () => handled === 3010, 10_000);
      await publish(600);
      await waitFor('the burst handled', () => handled === 3610, 10_000);
      expect(sizes[before]).toBeLessThanOrEqual(250);
      expect(Math.max(...sizes.slice(before))).toBeLessThanOrEqual(500);
    } finally {
      await consumer.stop();
    }
  });
});
