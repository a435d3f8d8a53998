import { startTelemetry } from '@switchyard/telemetry';
// Telemetry starts before anything else is loaded.
const telemetry = startTelemetry({ serviceName: 'router' });

import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { httpMetricsHooks } from '@switchyard/metrics';
import { RouterModule, ROUTER_CONFIG, ROUTER_METRICS } from './router.module';
import type { RouterMetrics } from './router.metrics';
import type { RouterConfig } from './router.config';

async function main() {
  const app = await NestFactory.create<NestFastifyApplication>(RouterModule, new FastifyAdapter(), { logger: ['error', 'warn'] });
  const cfg = app.get<RouterConfig>(ROUTER_CONFIG);
  const hooks = httpMetricsHooks(app.get<RouterMetrics>(ROUTER_METRICS).http);
  app.getHttpAdapter().getInstance().addHook('onRequest', hooks.onRequest);
  app.getHttpAdapter().getInstance().addHook('onResponse', hooks.onResponse);
  await app.listen(cfg.port, cfg.host);
  process.stdout.write(JSON.stringify({ service: 'router', msg: 'listening', url: `http://127.0.0.1:${cfg.port}` }) + '\n');
  const stop = async () => {
    await app.close();
    await telemetry.shutdown();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((e) => {
  process.stderr.write(`router failed to start: ${(e as Error).stack}\n`);
  process.exit(1);
});
