export { createMetricsRegistry, renderMetrics, LabelLimiter, METRIC_PREFIX } from './registry';
export type { Registry, MetricsRegistryOptions, RenderedMetrics } from './registry';
export {
  httpMetrics,
  upstreamMetrics,
  routingMetrics,
  planMetrics,
  keyCacheMetrics,
  spendMetrics,
  consumerLagMetrics,
  pollConsumerLag,
  ingestMetrics,
  ledgerMetrics,
  statusClass,
  BREAKER_STATE,
  LATENCY_BUCKETS_S,
  TTFT_BUCKETS_S,
  WRITE_BUCKETS_S,
  BATCH_SIZE_BUCKETS,
} from './families';
export type {
  HttpMetrics,
  UpstreamMetrics,
  UpstreamAttemptSample,
  RoutingMetrics,
  BreakerStateName,
  PlanMetrics,
  KeyCacheMetrics,
  SpendMetrics,
  ConsumerLagMetrics,
  ConsumerLagSample,
  LagPoller,
  IngestMetrics,
  LedgerMetrics,
} from './families';
export { httpMetricsHooks } from './http-hooks';
export type { HookRequest, HookReply } from './http-hooks';
