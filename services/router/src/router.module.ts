import { Controller, Get, HttpException, Inject, Module, Res, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats, ensureUsageTopology } from '@switchyard/bus';
import type { FastifyReply } from 'fastify';
import { createLogger, type Logger } from '@switchyard/telemetry';
import { renderMetrics } from '@switchyard/metrics';
import { createRouterMetrics, type RouterMetrics } from './router.metrics';
import { loadRouterConfig, type RouterConfig } from './router.config';
import { PlanPublisher, openPlanBucket } from './plan.publisher';

export const ROUTER_CONFIG = Symbol('ROUTER_CONFIG');
export const NATS = Symbol('NATS');
export const LOGGER = Symbol('LOGGER');
export const ROUTER_METRICS = Symbol('ROUTER_METRICS');

@Controller()
export class RouterController {
  constructor(
    @Inject(PlanPublisher) private readonly plans: PlanPublisher,
    @Inject(NATS) private readonly nc: NatsConnection,
    @Inject(ROUTER_METRICS) private readonly metrics: RouterMetrics,
  ) {}

  /** Prometheus scrape endpoint. */
  @Get('metrics')
  async metricsText(@Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    const m = await renderMetrics(this.metrics.registry);
    reply.header('content-type', m.contentType);
    return m.body;
  }

  @Get('healthz')
  health() {
    return { status: 'ok' };
  }

  @Get('readyz')
  ready() {
    if (this.nc.isClosed() || !this.plans.plan) throw new HttpException({ status: 'not ready' }, 503);
    return { status: 'ready', plan_version: this.plans.plan.version };
  }

  /** The plan ingress is routing on, for operators. */
  @Get('v1/router/plan')
  plan() {
    return this.plans.plan ?? { schema: 'plan.v1', models: {} };
  }
}

@Module({
  controllers: [RouterController],
  providers: [
    { provide: ROUTER_CONFIG, useFactory: () => loadRouterConfig() },
    { provide: LOGGER, useFactory: () => createLogger('router') },
    { provide: ROUTER_METRICS, useFactory: () => createRouterMetrics() },
    {
      provide: NATS,
      inject: [ROUTER_CONFIG],
      useFactory: async (cfg: RouterConfig) => {
        const nc = await connectNats(cfg.natsUrl, 'switchyard-router');
        await ensureUsageTopology(await jetstreamManager(nc));
        return nc;
      },
    },
    {
      provide: PlanPublisher,
      inject: [NATS, LOGGER, ROUTER_CONFIG, ROUTER_METRICS],
      useFactory: async (nc: NatsConnection, log: Logger, cfg: RouterConfig, metrics: RouterMetrics) =>
        new PlanPublisher(nc, await openPlanBucket(nc), log, cfg.refreshMs, undefined, metrics.plan),
    },
  ],
})
export class RouterModule implements OnApplicationBootstrap, OnModuleDestroy {
  constructor(
    @Inject(PlanPublisher) private readonly plans: PlanPublisher,
    @Inject(NATS) private readonly nc: NatsConnection,
  ) {}

  async onApplicationBootstrap() {
    await this.plans.start();
  }

  async onModuleDestroy() {
    this.plans.stop();
    await this.nc.drain().catch(() => undefined);
  }
}
