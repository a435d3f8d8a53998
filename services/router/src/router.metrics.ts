import { createMetricsRegistry, httpMetrics, planMetrics, type HttpMetrics, type PlanMetrics, type Registry } from '@switchyard/metrics';

/** Everything the router exposes on /metrics. */
export interface RouterMetrics {
  registry: Registry;
  http: HttpMetrics;
  plan: PlanMetrics;
}

export function createRouterMetrics(): RouterMetrics {
  const registry = createMetricsRegistry({ service: 'router' });
  return { registry, http: httpMetrics(registry), plan: planMetrics(registry) };
}
