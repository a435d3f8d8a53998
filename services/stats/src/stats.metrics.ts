import {
  consumerLagMetrics,
  createMetricsRegistry,
  httpMetrics,
  ingestMetrics,
  type ConsumerLagMetrics,
  type HttpMetrics,
  type IngestMetrics,
  type Registry,
} from '@switchyard/metrics';

/** The `sink` label of the stats service's ingest metrics. */
export const CLICKHOUSE_SINK = 'clickhouse';

/** Everything the stats service exposes on /metrics. */
export interface StatsMetrics {
  registry: Registry;
  http: HttpMetrics;
  ingest: IngestMetrics;
  lag: ConsumerLagMetrics;
}

export function createStatsMetrics(opts: { defaultMetrics?: boolean } = {}): StatsMetrics {
  const registry = createMetricsRegistry({ service: 'stats', defaultMetrics: opts.defaultMetrics });
  return {
    registry,
    http: httpMetrics(registry),
    ingest: ingestMetrics(registry),
    lag: consumerLagMetrics(registry),
  };
}
