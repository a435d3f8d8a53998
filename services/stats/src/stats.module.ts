import {
  type BeforeApplicationShutdown,
  type DynamicModule,
  Inject,
  Injectable,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { NatsConnection } from '@switchyard/bus';
import type { ClickHouseClient } from '@switchyard/clickhouse';
import type { LagPoller } from '@switchyard/metrics';
import type { Logger } from '@switchyard/telemetry';
import { HealthController } from './health.controller';
import { MetricsController } from './metrics.controller';
import type { StatsMetrics } from './stats.metrics';
import { StatsController } from './stats.controller';
import { CLICKHOUSE, NATS, STATS_LOGGER, STATS_METRICS, STATS_RESOURCES } from './stats.tokens';
import type { UsageStoreConsumer } from './usage.consumer';

/** What the module is built from; made by startStats before Nest starts. */
export interface StatsResources {
  clickhouse: ClickHouseClient;
  nc: NatsConnection;
  consumer: UsageStoreConsumer;
  logger: Logger;
  metrics: StatsMetrics;
  /** Reads the consumer lag into the metrics; stopped on shutdown. */
  lagPoller?: LagPoller;
  /** Periodic retention of raw usage; stopped on shutdown. */
  retention?: { stop(): void };
  /** Whether shutdown closes them: clients handed in by a caller stay the caller's. */
  ownsClickHouse: boolean;
  ownsNats: boolean;
}

/**
 * Starts the consumer once the app is up; on shutdown stops it after the
 * batch in hand (stored and acked), while HTTP still answers, then — after
 * Nest closed the HTTP server — drains NATS and closes ClickHouse.
 */
@Injectable()
export class StatsLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  constructor(
    @Inject(STATS_RESOURCES) private readonly res: StatsResources,
    @Inject(STATS_LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.res.consumer.start();
    this.logger.info('usage consumer started');
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.res.lagPoller?.stop();
    this.res.retention?.stop();
    await this.res.consumer.stop();
    this.logger.info('usage consumer stopped');
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.res.ownsNats && !this.res.nc.isClosed()) {
      await this.res.nc.drain().catch((e: Error) => this.logger.warn({ err: e }, 'NATS drain failed'));
    }
    if (this.res.ownsClickHouse) await this.res.clickhouse.close();
  }
}

@Module({})
export class StatsModule {
  static forRoot(res: StatsResources): DynamicModule {
    return {
      module: StatsModule,
      controllers: [HealthController, StatsController, MetricsController],
      providers: [
        { provide: STATS_RESOURCES, useValue: res },
        { provide: CLICKHOUSE, useValue: res.clickhouse },
        { provide: NATS, useValue: res.nc },
        { provide: STATS_LOGGER, useValue: res.logger },
        { provide: STATS_METRICS, useValue: res.metrics },
        StatsLifecycle,
      ],
    };
  }
}
