import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { renderMetrics } from '@switchyard/metrics';
import type { StatsMetrics } from './stats.metrics';
import { STATS_METRICS } from './stats.tokens';

/** Prometheus scrape endpoint. */
@Controller()
export class MetricsController {
  constructor(@Inject(STATS_METRICS) private readonly metrics: StatsMetrics) {}

  @Get('metrics')
  async metricsText(@Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    const m = await renderMetrics(this.metrics.registry);
    reply.header('content-type', m.contentType);
    return m.body;
  }
}
