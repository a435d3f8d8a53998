import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { LogLevel } from '@nestjs/common';
import type { Kysely } from 'kysely';
import type { NatsConnection } from '@switchyard/bus';
import type { Env } from '@switchyard/config';
import { loadBillingConfig, type BillingConfig } from './billing.config';
import { BillingModule, type BillingModuleOptions } from './billing.module';
import { DATABASE, NATS, USAGE_CONSUMER } from './billing.tokens';
import type { DB } from './db/database';
import type { BillingUsageConsumer } from './ledger/usage.consumer';
import { OpenAiErrorFilter } from './http/openai-error.filter';

export interface StartBillingOptions extends BillingModuleOptions {
  /** Environment to read the config from (default: process.env). */
  env?: Env;
  /** Overrides on top of the env config; `port: 0` picks a free port. */
  config?: Partial<BillingConfig>;
  /** Nest's own log levels (default: errors and warnings). */
  nestLogLevels?: LogLevel[];
  /** Close on SIGTERM/SIGINT (main.ts; not for in-process tests). */
  shutdownHooks?: boolean;
}

export interface RunningBilling {
  app: NestFastifyApplication;
  config: BillingConfig;
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  db: Kysely<DB>;
  nc: NatsConnection;
  consumer: BillingUsageConsumer | null;
  /** Graceful stop: consumer, responders, NATS drain, pool, HTTP. */
  close(): Promise<void>;
}

/** Starts the billing service in this process; resolves once it listens and consumes. */
export async function startBilling(opts: StartBillingOptions = {}): Promise<RunningBilling> {
  const config: BillingConfig = { ...loadBillingConfig(opts.env), ...opts.config };
  const app = await NestFactory.create<NestFastifyApplication>(BillingModule.forRoot(config, opts), new FastifyAdapter(), {
    logger: opts.nestLogLevels ?? ['error', 'warn'],
  });
  app.useGlobalFilters(new OpenAiErrorFilter());
  if (opts.shutdownHooks) app.enableShutdownHooks();
  await app.listen(config.port, config.host);
  const port = (app.getHttpServer().address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    app,
    config,
    url: `http://127.0.0.1:${port}`,
    port,
    db: app.get<Kysely<DB>>(DATABASE),
    nc: app.get<NatsConnection>(NATS),
    consumer: app.get<BillingUsageConsumer | null>(USAGE_CONSUMER),
    close: () => (closing ??= app.close()),
  };
}
