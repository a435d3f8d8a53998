import {
  createMetricsRegistry,
  httpMetrics,
  keyCacheMetrics,
  spendMetrics,
  routingMetrics,
  upstreamMetrics,
  type HttpMetrics,
  type KeyCacheMetrics,
  type SpendMetrics,
  type Registry,
  type RoutingMetrics,
  type UpstreamMetrics,
} from '@switchyard/metrics';

/** The ingress's Prometheus metrics: HTTP, upstream attempts, routing and the key cache. */
export interface IngressMetrics {
  registry: Registry;
  http: HttpMetrics;
  upstream: UpstreamMetrics;
  routing: RoutingMetrics;
  keys: KeyCacheMetrics;
  spend: SpendMetrics;
}

export function createIngressMetrics(): IngressMetrics {
  const registry = createMetricsRegistry({ service: 'ingress' });
  return {
    registry,
    http: httpMetrics(registry),
    upstream: upstreamMetrics(registry),
    routing: routingMetrics(registry),
    keys: keyCacheMetrics(registry),
    spend: spendMetrics(registry),
  };
}
