import {
  Inject,
  Module,
  type DynamicModule,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleDestroy,
} from '@nestjs/common';
import type { Kysely } from 'kysely';
import type { Tracer } from '@opentelemetry/api';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats, ensureUsageTopology, type NatsConnection } from '@switchyard/bus';
import { redactUrl } from '@switchyard/config';
import { createLogger, type Logger, type Telemetry } from '@switchyard/telemetry';
import type { BillingConfig } from './billing.config';
import { BILLING_CONFIG, BILLING_OPTIONS, CONFIG_APPLIED, DATABASE, LOGGER, NATS, RESPONDERS, USAGE_CONSUMER } from './billing.tokens';
import { createDb, type DB } from './db/database';
import { migrateToLatest } from './db/migrate';
import { encryptLegacyCredentials } from './channels/channels.repository';
import { CREDENTIAL_KEY_ENV, CREDENTIAL_KEY_HELP } from './crypto/credential-cipher';
import { HealthController } from './http/health.controller';
import { BILLING_METRICS, BillingMetricsController, createBillingMetrics, type BillingMetrics } from './billing.metrics';
import { pollConsumerLag, type LagPoller } from '@switchyard/metrics';
import { BILLING_CONSUMER, USAGE_STREAM } from '@switchyard/contracts';
import { AdminController } from './http/admin.controller';
import { MeController } from './http/me.controller';
import { BillingUsageConsumer, type BillingConsumerOptions } from './ledger/usage.consumer';
import { createBillingResponders } from './nats/billing.responders';
import type { Responder } from './nats/responder';
import { connectionNotifier } from './admin.notifier';
import { applyConfigAtStart } from './config/apply-at-start';

/** What the embedding code (main.ts, tests) hands the module besides the config. */
export interface BillingModuleOptions {
  logger?: Logger;
  tracer?: Tracer;
  afterCommit?: BillingConsumerOptions['afterCommit'];
  /** Shut down with the app (main.ts passes the process's telemetry; tests do not). */
  telemetry?: Telemetry;
}

/**
 * Wires the plain billing pieces to Postgres, NATS and HTTP. Start: migrate,
 * make the JetStream topology, answer requests, consume usage. Stop, in this
 * order: stop the consumer (the batch in hand commits and is acked), stop the
 * responders (requests in flight are answered), drain NATS, close the pool.
 */
@Module({})
export class BillingModule implements OnApplicationBootstrap, OnModuleDestroy, OnApplicationShutdown {
  static forRoot(config: BillingConfig, options: BillingModuleOptions = {}): DynamicModule {
    return {
      module: BillingModule,
      controllers: [HealthController, AdminController, MeController, BillingMetricsController],
      providers: [
        { provide: BILLING_CONFIG, useValue: config },
        { provide: BILLING_OPTIONS, useValue: options },
        { provide: BILLING_METRICS, useFactory: () => createBillingMetrics() },
        { provide: LOGGER, useFactory: () => options.logger ?? createLogger('billing') },
        {
          provide: DATABASE,
          inject: [BILLING_CONFIG, LOGGER],
          useFactory: async (cfg: BillingConfig, log: Logger) => {
            const db = createDb(cfg.databaseUrl, { max: cfg.dbPoolMax, onError: (e) => log.error({ err: e.message }, 'idle pg client error') });
            try {
              if (cfg.migrateOnStart) {
                const applied = await migrateToLatest(db);
                log.info({ applied, db: redactUrl(cfg.databaseUrl) }, applied.length ? 'migrations applied' : 'schema up to date');
              }
              if (cfg.credentialKey) {
                const n = await encryptLegacyCredentials(db, cfg.credentialKey);
                if (n > 0) log.info({ channels: n }, 'plaintext channel credentials encrypted');
              } else {
                log.warn(`${CREDENTIAL_KEY_ENV} is not set: channel credentials cannot be stored; ${CREDENTIAL_KEY_HELP}`);
              }
            } catch (e) {
              await db.destroy();
              throw e;
            }
            return db;
          },
        },
        {
          provide: NATS,
          inject: [BILLING_CONFIG, DATABASE],
          useFactory: async (cfg: BillingConfig, db: Kysely<DB>) => {
            try {
              const nc = await connectNats(cfg.natsUrl, 'switchyard-billing');
              await ensureUsageTopology(await jetstreamManager(nc));
              return nc;
            } catch (e) {
              await db.destroy();
              throw e;
            }
          },
        },
        {
          provide: CONFIG_APPLIED,
          inject: [BILLING_CONFIG, DATABASE, NATS, LOGGER],
          useFactory: async (cfg: BillingConfig, db: Kysely<DB>, nc: NatsConnection, log: Logger) => {
            if (!cfg.declarativeConfig) return false;
            try {
              await applyConfigAtStart({ db, notifier: connectionNotifier(nc), credentialKey: cfg.credentialKey }, cfg.declarativeConfig, log);
            } catch (e) {
              await nc.drain().catch(() => undefined);
              await db.destroy().catch(() => undefined);
              throw e;
            }
            return true;
          },
        },
        {
          provide: RESPONDERS,
          inject: [NATS, DATABASE, LOGGER, BILLING_CONFIG],
          useFactory: (nc: NatsConnection, db: Kysely<DB>, log: Logger, cfg: BillingConfig) => createBillingResponders(nc, db, log, cfg.credentialKey, { ttlMs: cfg.leaseTtlMs, graceMs: cfg.leaseGraceMs }),
        },
        {
          provide: USAGE_CONSUMER,
          inject: [NATS, DATABASE, LOGGER, BILLING_CONFIG, BILLING_METRICS],
          useFactory: (nc: NatsConnection, db: Kysely<DB>, log: Logger, cfg: BillingConfig, metrics: BillingMetrics) =>
            cfg.consumeUsage
              ? new BillingUsageConsumer(nc, db, log, {
                  batchSize: cfg.batchSize,
                  maxWaitMs: cfg.batchWaitMs,
                  tracer: options.tracer,
                  afterCommit: options.afterCommit,
                  onSettled: (outcome, seconds) => metrics.ledger.observe(outcome, seconds),
                })
              : null,
        },
      ],
      exports: [DATABASE, NATS, LOGGER, USAGE_CONSUMER, BILLING_CONFIG],
    };
  }

  constructor(
    @Inject(DATABASE) private readonly db: Kysely<DB>,
    @Inject(NATS) private readonly nc: NatsConnection,
    @Inject(RESPONDERS) private readonly responders: Responder[],
    @Inject(USAGE_CONSUMER) private readonly consumer: BillingUsageConsumer | null,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(BILLING_OPTIONS) private readonly options: BillingModuleOptions,
    @Inject(BILLING_METRICS) private readonly metrics: BillingMetrics,
    // Injected so the file is applied before responders answer and the consumer settles.
    @Inject(CONFIG_APPLIED) _configApplied: boolean,
  ) {}

  private lagPoller: LagPoller | undefined;

  onApplicationBootstrap(): void {
    for (const r of this.responders) r.start();
    this.consumer?.start();
    if (this.consumer) {
      const jsm = jetstreamManager(this.nc);
      this.lagPoller = pollConsumerLag(this.metrics.lag, USAGE_STREAM, BILLING_CONSUMER, async () => (await jsm).consumers.info(USAGE_STREAM, BILLING_CONSUMER));
    }
    this.log.info({ consuming: this.consumer !== null }, 'billing started');
  }

  async onModuleDestroy(): Promise<void> {
    this.lagPoller?.stop();
    await this.consumer?.stop().catch((e: Error) => this.log.error({ err: e.message }, 'consumer stop failed'));
    await Promise.all(this.responders.map((r) => r.stop()));
    await this.nc.drain().catch(() => undefined);
    await this.db.destroy().catch((e: Error) => this.log.error({ err: e.message }, 'pool close failed'));
    this.log.info('billing stopped');
  }

  async onApplicationShutdown(): Promise<void> {
    await this.options.telemetry?.shutdown().catch(() => undefined);
  }
}
