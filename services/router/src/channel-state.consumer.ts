import { UsageConsumer, type NatsConnection, type ReceivedUsage } from '@switchyard/bus';
import { ROUTER_CONSUMER, type UsageEventV1 } from '@switchyard/contracts';
import type { Logger } from '@switchyard/telemetry';
import type { ClusterChannelBook, ObservedRequest } from './cluster-channel.book';

export function observedFromEvent(e: UsageEventV1): ObservedRequest {
  return {
    request_id: e.request_id,
    model_requested: e.model_requested,
    channel_id: e.channel_id,
    occurred_at_ms: Date.parse(e.occurred_at),
    output_tokens: e.usage.output_tokens,
    attempts: e.attempts,
  };
}

/**
 * Feeds every usage event of every ingress into the cluster-wide channel
 * book through the router's durable consumer. The state is in memory and
 * rebuilt from ClickHouse at start, so events are acked once applied.
 */
export class ChannelStateConsumer {
  private readonly consumer: UsageConsumer;

  constructor(
    nc: NatsConnection,
    private readonly book: ClusterChannelBook,
    log: Logger,
  ) {
    this.consumer = new UsageConsumer(nc, {
      durable: ROUTER_CONSUMER,
      batchSize: 500,
      maxWaitMs: 1000,
      handle: async (batch: ReceivedUsage[]) => {
        for (const r of batch) this.book.apply(observedFromEvent(r.event));
      },
      onError: (err) => log.warn({ err: err.message }, 'usage consumer error'),
      onDeadLetter: (requestId, reason) => log.warn({ request_id: requestId, reason }, 'invalid usage event sent to the dead-letter stream'),
    });
  }

  start(): void {
    this.consumer.start();
  }

  stop(): Promise<void> {
    return this.consumer.stop();
  }
}
