import { Registry, collectDefaultMetrics } from 'prom-client';

export type { Registry } from 'prom-client';

/** Every Switchyard metric name starts with this. */
export const METRIC_PREFIX = 'switchyard_';

export interface MetricsRegistryOptions {
  /** Service name, added as the `service` label of every series (ingress, router, stats, billing). */
  service: string;
  /**
   * Node.js process metrics (CPU, resident memory, heap, event-loop lag, GC,
   * open handles) under the standard `process_*` / `nodejs_*` names. Default
   * true; tests that start many registries in one process may turn it off.
   */
  defaultMetrics?: boolean;
}

/**
 * A fresh registry per service instance (never prom-client's global one, so
 * two services in one test process do not collide), labelled with the
 * service name, with the default process metrics.
 */
export function createMetricsRegistry(opts: MetricsRegistryOptions): Registry {
  if (!opts.service) throw new TypeError('a service name is required');
  const registry = new Registry();
  registry.setDefaultLabels({ service: opts.service });
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}

export interface RenderedMetrics {
  contentType: string;
  body: string;
}

/**
 * The Prometheus text exposition of a registry: what a `/metrics` handler
 * sends, whatever the HTTP framework.
 *
 *     const m = await renderMetrics(registry);
 *     reply.header('content-type', m.contentType).send(m.body);
 */
export async function renderMetrics(registry: Registry): Promise<RenderedMetrics> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}

/**
 * Keeps a label's distinct values bounded: the first `max` values pass
 * through, any later new value becomes `other`. For labels fed from data a
 * client can influence (a model name, a channel id from a stale plan), so a
 * flood of made-up values cannot blow up the series count. Values longer
 * than 128 characters are cut.
 */
export class LabelLimiter {
  static readonly OTHER = 'other';
  private readonly seen = new Set<string>();

  constructor(private readonly max = 200) {
    if (!(max >= 1)) throw new RangeError('max must be at least 1');
  }

  value(v: string | null | undefined): string {
    if (v === null || v === undefined || v === '') return 'none';
    const s = v.length > 128 ? v.slice(0, 128) : v;
    if (this.seen.has(s)) return s;
    if (this.seen.size >= this.max) return LabelLimiter.OTHER;
    this.seen.add(s);
    return s;
  }
}
