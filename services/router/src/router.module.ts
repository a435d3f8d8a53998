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
import { ClusterChannelBook } from './cluster-channel.book';
import { ChannelStateConsumer } from './channel-state.consumer';
import { rebuildFromClickHouse } from './state.rebuild';
import { createClickHouseClient } from '@switchyard/clickhouse';

export const ROUTER_CONFIG = Symbol('ROUTER_CONFIG');
export const NATS = Symbol('NATS');
export const LOGGER = Symbol('LOGGER');
export const ROUTER_METRICS = Symbol('ROUTER_METRICS');
export const CHANNEL_BOOK = Symbol('CHANNEL_BOOK');
export const CHANNEL_CONSUMER = Symbol('CHANNEL_CONSUMER');

@Controller()
export class RouterController {
  constructor(
    @Inject(PlanPublisher) private readonly plans: PlanPublisher,
    @Inject(NATS) private readonly nc: NatsConnection,
    @Inject(ROUTER_METRICS) private readonly metrics: RouterMetrics,
    @Inject(CHANNEL_BOOK) private readonly book: ClusterChannelBook,
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

  /** Cluster-wide live state per (channel, model), from every ingress's usage events. */
  @Get('v1/router/channels')
  channels() {
    return { generated_at: new Date().toISOString(), channels: this.book.list() };
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
      provide: CHANNEL_BOOK,
      inject: [ROUTER_CONFIG, ROUTER_METRICS],
      useFactory: (cfg: RouterConfig, metrics: RouterMetrics) => {
        const book = new ClusterChannelBook({ maxAgeMs: cfg.rebuildMinutes * 60_000, maxRemembered: Math.max(cfg.rebuildMaxEvents, 10_000) });
        metrics.watchChannels(() => book.list());
        return book;
      },
    },
    {
      provide: CHANNEL_CONSUMER,
      inject: [NATS, CHANNEL_BOOK, LOGGER],
      useFactory: (nc: NatsConnection, book: ClusterChannelBook, log: Logger) => new ChannelStateConsumer(nc, book, log),
    },
    {
      provide: PlanPublisher,
      inject: [NATS, LOGGER, ROUTER_CONFIG, ROUTER_METRICS, CHANNEL_BOOK],
      useFactory: async (nc: NatsConnection, log: Logger, cfg: RouterConfig, metrics: RouterMetrics, book: ClusterChannelBook) =>
        new PlanPublisher(nc, await openPlanBucket(nc), log, cfg.refreshMs, undefined, metrics.plan, {
          lookup: (channelId, model) => book.peek(channelId, model),
          publishMs: cfg.healthPublishMs,
          onHealthPublish: () => metrics.healthPublishes.inc(),
          onModels: (models) => book.setCatalogModels(models),
        }),
    },
  ],
})
export class RouterModule implements OnApplicationBootstrap, OnModuleDestroy {
  constructor(
    @Inject(PlanPublisher) private readonly plans: PlanPublisher,
    @Inject(NATS) private readonly nc: NatsConnection,
    @Inject(ROUTER_CONFIG) private readonly cfg: RouterConfig,
    @Inject(CHANNEL_BOOK) private readonly book: ClusterChannelBook,
    @Inject(CHANNEL_CONSUMER) private readonly consumer: ChannelStateConsumer,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  /** Rebuild the cluster-wide state from ClickHouse, then follow the stream, then publish. */
  async onApplicationBootstrap() {
    const clickhouse = createClickHouseClient({
      url: this.cfg.clickhouseUrl,
      database: this.cfg.clickhouseDatabase,
      requestTimeoutMs: this.cfg.clickhouseTimeoutMs,
      maxOpenConnections: 1,
    });
    try {
      await rebuildFromClickHouse(clickhouse, this.book, {
        minutes: this.cfg.rebuildMinutes,
        maxEvents: this.cfg.rebuildMaxEvents,
        now: Date.now,
        log: this.log,
      });
    } finally {
      await clickhouse.close().catch(() => undefined);
    }
    this.consumer.start();
    await this.plans.start();
  }

  async onModuleDestroy() {
    this.plans.stop();
    await this.consumer.stop().catch(() => undefined);
    await this.nc.drain().catch(() => undefined);
  }
}
