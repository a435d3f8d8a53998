import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { consumerLagMetrics, createMetricsRegistry, ledgerMetrics, renderMetrics, type ConsumerLagMetrics, type LedgerMetrics, type Registry } from '@switchyard/metrics';

export const BILLING_METRICS = Symbol('BILLING_METRICS');

/** Billing's Prometheus metrics: settlements by outcome and duration, consumer lag. */
export interface BillingMetrics {
  registry: Registry;
  ledger: LedgerMetrics;
  lag: ConsumerLagMetrics;
}

export function createBillingMetrics(): BillingMetrics {
  const registry = createMetricsRegistry({ service: 'billing' });
  return { registry, ledger: ledgerMetrics(registry), lag: consumerLagMetrics(registry) };
}

/** Prometheus scrape endpoint. */
@Controller()
export class BillingMetricsController {
  constructor(@Inject(BILLING_METRICS) private readonly metrics: BillingMetrics) {}

  @Get('metrics')
  async metricsText(@Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    const m = await renderMetrics(this.metrics.registry);
    reply.header('content-type', m.contentType);
    return m.body;
  }
}
