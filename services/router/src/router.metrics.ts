import { Counter, Gauge } from 'prom-client';
import {
  createMetricsRegistry,
  httpMetrics,
  planMetrics,
  METRIC_PREFIX,
  type HttpMetrics,
  type PlanMetrics,
  type Registry,
} from '@switchyard/metrics';
import type { ChannelEntry } from './cluster-channel.book';

/** Everything the router exposes on /metrics. */
export interface RouterMetrics {
  registry: Registry;
  http: HttpMetrics;
  plan: PlanMetrics;
  /** Plans written because the cluster-wide health changed (routing unchanged). */
  healthPublishes: { inc(): void };
  /** Where the per-channel gauges read from at scrape time. */
  watchChannels(list: () => ChannelEntry[]): void;
}

export function createRouterMetrics(): RouterMetrics {
  const registry = createMetricsRegistry({ service: 'router' });
  let channels: () => ChannelEntry[] = () => [];
  const healthPublishes = new Counter({
    name: `${METRIC_PREFIX}routing_plan_health_publishes_total`,
    help: 'Routing plans written because the cluster-wide channel health changed while the routing did not.',
    registers: [registry],
  });
  // Channel and model ids come from the catalog (usage events of routed requests): bounded.
  new Gauge({
    name: `${METRIC_PREFIX}router_channel_success_rate`,
    help: 'Cluster-wide success rate of a channel for a model over the last 60 s (absent when the window is empty).',
    labelNames: ['channel', 'model'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const c of channels()) {
        if (c.stats.window_success_rate !== null) this.set({ channel: c.channel_id, model: c.model }, c.stats.window_success_rate);
      }
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}router_channel_requests`,
    help: 'Attempts on a channel for a model the router has observed (since its start, including the rebuild from ClickHouse).',
    labelNames: ['channel', 'model'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const c of channels()) this.set({ channel: c.channel_id, model: c.model }, c.stats.requests);
    },
  });
  return {
    registry,
    http: httpMetrics(registry),
    plan: planMetrics(registry),
    healthPublishes: { inc: () => healthPublishes.inc() },
    watchChannels: (list) => {
      channels = list;
    },
  };
}
