export { connectNats } from './nats';
export { ensureUsageTopology } from './usage-stream';
export { UsagePublisher } from './usage-publisher';
export type { UsagePublisherOptions } from './usage-publisher';
export { UsageConsumer } from './usage-consumer';
export type { UsageConsumerOptions, ReceivedUsage, Prepared } from './usage-consumer';
export type { NatsConnection } from '@nats-io/transport-node';
