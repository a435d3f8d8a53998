import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { jetstreamManager } from '@nats-io/jetstream';
import type { AddressInfo } from 'node:net';
import { connectNats, ensureUsageTopology, type NatsConnection } from '@switchyard/bus';
import { createClickHouse, runMigrations, traceClickHouse, type ClickHouseClient } from '@switchyard/clickhouse';
import { redactUrl, type Env } from '@switchyard/config';
import { STATS_CONSUMER, USAGE_STREAM } from '@switchyard/contracts';
import { httpMetricsHooks, pollConsumerLag } from '@switchyard/metrics';
import { createLogger, spansExported, type Logger } from '@switchyard/telemetry';
import { ApiErrorFilter } from './http-errors';
import { NestPinoLogger } from './nest-logger';
import { loadStatsConfig, type StatsConfig } from './stats.config';
import { statsMigrations } from './stats.migrations';
import { dropExpiredUsagePartitions } from './usage.retention';
import { createStatsMetrics, type StatsMetrics } from './stats.metrics';
import { StatsModule } from './stats.module';
import { UsageStoreConsumer } from './usage.consumer';

export interface StartStatsOptions {
  /** Environment to read the configuration from (default process.env). */
  env?: Env;
  /** Overrides of single settings, applied on top of the environment. */
  config?: Partial<StatsConfig>;
  /**
   * A ClickHouse client to use instead of one made from the configuration —
   * e.g. one pointing at a closed port. It is not closed by `close()`.
   */
  clickhouse?: ClickHouseClient;
  /** A NATS connection to use instead of a new one. It is not closed by `close()`. */
  nc?: NatsConnection;
  /** Apply the ClickHouse migrations at start (default true). */
  migrate?: boolean;
  logger?: Logger;
  /** Metrics to record into (default: a new registry with the process metrics). */
  metrics?: StatsMetrics;
}

export interface StatsHandle {
  app: NestFastifyApplication;
  /** Base URL of the HTTP API, e.g. http://127.0.0.1:41234. */
  url: string;
  port: number;
  config: StatsConfig;
  clickhouse: ClickHouseClient;
  nc: NatsConnection;
  consumer: UsageStoreConsumer;
  metrics: StatsMetrics;
  /** Graceful stop: consumer (after its batch) → HTTP → NATS drain → ClickHouse. */
  close(): Promise<void>;
}

/**
 * Starts the stats service in this process: ClickHouse database and
 * migrations, the usage stream topology, the HTTP API and the usage consumer.
 * Telemetry is the caller's: `main.ts` starts it first; tests start their own.
 */
export async function startStats(opts: StartStatsOptions = {}): Promise<StatsHandle> {
  const config = { ...loadStatsConfig(opts.env ?? process.env), ...opts.config };
  const logger = opts.logger ?? createLogger('stats');

  const clickhouse =
    opts.clickhouse ??
    (await createClickHouse({
      url: config.clickhouseUrl,
      database: config.clickhouseDatabase,
      requestTimeoutMs: config.clickhouseTimeoutMs,
    }));
  let nc: NatsConnection | undefined = opts.nc;
  try {
    if (opts.migrate ?? true) {
      const applied = await runMigrations(clickhouse, statsMigrations({ retentionDays: config.retentionDays }));
      logger.info({ applied, database: config.clickhouseDatabase, url: redactUrl(config.clickhouseUrl) }, 'ClickHouse schema ready');
    }
    nc ??= await connectNats(config.natsUrl, 'stats');
    const jsm = await jetstreamManager(nc);
    await ensureUsageTopology(jsm);
    const metrics = opts.metrics ?? createStatsMetrics();

    const consumer = new UsageStoreConsumer({
      nc,
      // ClickHouse spans under the consumer's batch span, while spans are exported.
      clickhouse: traceClickHouse(clickhouse, { database: config.clickhouseDatabase, enabled: spansExported }),
      logger,
      batchSize: config.batchSize,
      maxBatchSize: config.maxBatchSize,
      batchWaitMs: config.batchWaitMs,
      metrics: metrics.ingest,
    });
    const retention = startRetention(clickhouse, config.retentionDays, logger);
    const lagPoller = pollConsumerLag(
      metrics.lag,
      USAGE_STREAM,
      STATS_CONSUMER,
      async () => (await jsm.consumers.info(USAGE_STREAM, STATS_CONSUMER)),
      config.lagPollMs,
    );
    void lagPoller.poll();
    const app = await NestFactory.create<NestFastifyApplication>(
      StatsModule.forRoot({
        clickhouse,
        nc,
        consumer,
        logger,
        metrics,
        lagPoller,
        retention,
        ownsClickHouse: !opts.clickhouse,
        ownsNats: !opts.nc,
      }),
      new FastifyAdapter(),
      { logger: new NestPinoLogger(logger) },
    );
    app.useGlobalFilters(new ApiErrorFilter(logger));
    const hooks = httpMetricsHooks(metrics.http);
    const fastify = app.getHttpAdapter().getInstance();
    fastify.addHook('onRequest', hooks.onRequest);
    fastify.addHook('onResponse', hooks.onResponse);
    await app.listen(config.port, config.host);
    const port = (app.getHttpServer().address() as AddressInfo).port;
    const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
    logger.info({ port, batch_size: config.batchSize, batch_max_size: config.maxBatchSize, batch_wait_ms: config.batchWaitMs }, 'stats listening');

    let closing: Promise<void> | undefined;
    return {
      app,
      url: `http://${host}:${port}`,
      port,
      config,
      clickhouse,
      nc,
      consumer,
      metrics,
      close: () => (closing ??= app.close()),
    };
  } catch (e) {
    // Start failed half-way: release what this call opened.
    if (!opts.nc && nc && !nc.isClosed()) await nc.close().catch(() => undefined);
    if (!opts.clickhouse) await clickhouse.close().catch(() => undefined);
    throw e;
  }
}

const RETENTION_EVERY_MS = 6 * 60 * 60 * 1000;

/** Drops expired monthly partitions now and every six hours; failures are logged and retried next time. */
function startRetention(clickhouse: ClickHouseClient, days: number, logger: Logger): { stop(): void } {
  const run = () =>
    dropExpiredUsagePartitions(clickhouse, days, new Date())
      .then((dropped) => {
        if (dropped.length > 0) logger.info({ dropped, retention_days: days }, 'expired usage partitions dropped');
      })
      .catch((e: Error) => logger.warn({ err: e }, 'usage retention failed; retrying later'));
  void run();
  const timer = setInterval(() => void run(), RETENTION_EVERY_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
