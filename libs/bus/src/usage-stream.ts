import { AckPolicy, DeliverPolicy, RetentionPolicy, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import {
  BILLING_CONSUMER,
  ROUTER_CONSUMER,
  STATS_CONSUMER,
  USAGE_DLQ_STREAM,
  USAGE_DLQ_SUBJECT,
  USAGE_DUPLICATE_WINDOW_MS,
  USAGE_STREAM,
  USAGE_SUBJECT_V1,
} from '@switchyard/contracts';

const NS_PER_MS = 1_000_000;
const DAY_MS = 24 * 60 * 60 * 1000;

async function ensureStream(jsm: JetStreamManager, name: string, subjects: string[], maxAgeMs: number, dupMs: number) {
  const cfg = {
    subjects,
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: maxAgeMs * NS_PER_MS,
    duplicate_window: dupMs * NS_PER_MS,
  };
  try {
    await jsm.streams.info(name);
    await jsm.streams.update(name, cfg);
  } catch (e) {
    if (!/stream not found/i.test((e as Error).message)) throw e;
    await jsm.streams.add({ name, ...cfg });
  }
}

/**
 * Creates (or updates) the usage stream, its dead-letter stream and the
 * durable consumers. Every service calls this at start: whichever comes up
 * first makes the topology, the others find it there.
 * Usage is kept 7 days so a consumer that was down for days still catches up.
 */
export async function ensureUsageTopology(jsm: JetStreamManager): Promise<void> {
  await ensureStream(jsm, USAGE_STREAM, [USAGE_SUBJECT_V1], 7 * DAY_MS, USAGE_DUPLICATE_WINDOW_MS);
  await ensureStream(jsm, USAGE_DLQ_STREAM, [USAGE_DLQ_SUBJECT], 30 * DAY_MS, 2 * 60 * 1000);
  for (const durable of [STATS_CONSUMER, BILLING_CONSUMER, ROUTER_CONSUMER]) {
    try {
      await jsm.consumers.info(USAGE_STREAM, durable);
    } catch (e) {
      if (!/consumer not found/i.test((e as Error).message)) throw e;
      await jsm.consumers.add(USAGE_STREAM, {
        durable_name: durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        filter_subject: USAGE_SUBJECT_V1,
        // A batch insert can take a while when ClickHouse is slow; redelivery
        // before the write finished would only cost a duplicate check.
        ack_wait: 60_000 * NS_PER_MS,
        max_ack_pending: 20_000,
      });
    }
  }
}
