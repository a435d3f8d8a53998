import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { NatsConnection } from '@nats-io/transport-node';
import { v7 as uuidv7 } from 'uuid';
import type { Logger } from '@switchyard/telemetry';
import { KeyCache } from './auth/key-cache';
import { ChatCompletionsHandler } from './chat/chat-completions.handler';
import { registerIngressRoutes } from './http/ingress.routes';
import { EmbeddingsHandler } from './embeddings/embeddings.handler';
import { CompletionsHandler } from './completions/completions.handler';
import { ModelListsHandler } from './models/model-lists';
import { IngressModule, INGRESS_CONFIG, LOGGER, METRICS, NATS } from './ingress.module';
import type { IngressMetrics } from './metrics/ingress.metrics';
import type { IngressConfig } from './ingress.config';
import { PlanStore } from './plan/plan.store';
import { OpenAIExceptionFilter } from './http/openai-exception.filter';
import { ChannelHealthBook } from './routing/channel-health.book';

export interface RunningIngress {
  app: NestFastifyApplication;
  url: string;
  close(): Promise<void>;
}

/** Builds and starts the ingress; used by main.ts and by tests in-process. */
export async function startIngress(opts: { port?: number; host?: string } = {}): Promise<RunningIngress> {
  // Config is read inside the module; the body limit must be known to Fastify up front.
  const bodyLimit = Number(process.env.INGRESS_BODY_LIMIT_BYTES) || 10 * 1024 * 1024;
  const adapter = new FastifyAdapter({
    bodyLimit,
    genReqId: () => uuidv7(),
    requestIdHeader: false,
    logger: false,
    keepAliveTimeout: 65_000,
  });
  const app = await NestFactory.create<NestFastifyApplication>(IngressModule, adapter, { logger: ['error', 'warn'] });
  const cfg = app.get<IngressConfig>(INGRESS_CONFIG);
  app.useGlobalFilters(new OpenAIExceptionFilter());
  // Nest installs its own Fastify error handler during init: ours goes on after it.
  await app.init();
  registerIngressRoutes(app.getHttpAdapter().getInstance(), {
    chat: app.get(ChatCompletionsHandler),
    embeddings: app.get(EmbeddingsHandler),
    completions: app.get(CompletionsHandler),
    modelLists: app.get(ModelListsHandler),
    keys: app.get(KeyCache),
    plans: app.get(PlanStore),
    nc: app.get<NatsConnection>(NATS),
    health: app.get(ChannelHealthBook),
    metrics: app.get<IngressMetrics>(METRICS),
    log: app.get<Logger>(LOGGER),
  });
  const port = opts.port ?? cfg.port;
  await app.listen(port, opts.host ?? cfg.host);
  const address = app.getHttpServer().address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  return { app, url: `http://127.0.0.1:${actualPort}`, close: () => app.close() };
}
