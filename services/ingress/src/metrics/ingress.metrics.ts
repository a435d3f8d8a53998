import {
  createMetricsRegistry,
  httpMetrics,
  keyCacheMetrics,
  routingMetrics,
  upstreamMetrics,
  type HttpMetrics,
  type KeyCacheMetrics,
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
}

export function createIngressMetrics(): IngressMetrics {
  const registry = createMetricsRegistry({ service: 'ingress' });
  return {
    registry,
    http: httpMetrics(registry),
    upstream: upstreamMetrics(registry),
    routing: routingMetrics(registry),
    keys: keyCacheMetrics(registry),
  };
}
