import { Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { trace } from '@opentelemetry/api';
import { connectNats, ensureUsageTopology, UsagePublisher } from '@switchyard/bus';
import { createLogger, type Logger } from '@switchyard/telemetry';
import { KeyCache } from './auth/key-cache';
import { ChatCompletionsHandler, type ChatDeps } from './chat/chat-completions.handler';
import { OpenAIPassthrough } from './completions/openai-passthrough';
import { CompletionsHandler } from './completions/completions.handler';
import { EmbeddingsHandler } from './embeddings/embeddings.handler';
import { ModelListsHandler } from './models/model-lists';
import { loadIngressConfig, type IngressConfig } from './ingress.config';
import { PlanStore } from './plan/plan.store';
import { CredentialCache } from './upstream/credential.cache';
import { UpstreamPools } from './upstream/upstream.pool';
import { ClusterRateLimiter } from './limits/cluster-rate-limiter';
import { ChannelHealthBook } from './routing/channel-health.book';
import { createIngressMetrics, type IngressMetrics } from './metrics/ingress.metrics';
import { PoolSelector } from '@switchyard/routing';
import { createTokenCounter } from './usage/token-estimate';

export const INGRESS_CONFIG = Symbol('INGRESS_CONFIG');
export const NATS = Symbol('NATS');
export const LOGGER = Symbol('LOGGER');
export const METRICS = Symbol('METRICS');
/** What every request handler shares: caches, pools, limits, health, usage, telemetry. */
export const HANDLER_DEPS = Symbol('HANDLER_DEPS');

@Module({
  providers: [
    { provide: INGRESS_CONFIG, useFactory: () => loadIngressConfig() },
    { provide: LOGGER, useFactory: () => createLogger('ingress') },
    { provide: METRICS, useFactory: () => createIngressMetrics() },
    {
      provide: NATS,
      inject: [INGRESS_CONFIG],
      useFactory: async (cfg: IngressConfig) => {
        const nc = await connectNats(cfg.natsUrl, 'switchyard-ingress');
        await ensureUsageTopology(await jetstreamManager(nc));
        return nc;
      },
    },
    {
      provide: KeyCache,
      inject: [NATS, INGRESS_CONFIG, METRICS],
      useFactory: (nc: NatsConnection, cfg: IngressConfig, metrics: IngressMetrics) => {
        const keys = new KeyCache(nc, {
          ttlMs: cfg.keyCacheTtlMs,
          negativeTtlMs: cfg.keyCacheNegativeTtlMs,
          lookupTimeoutMs: cfg.lookupTimeoutMs,
          onLookup: (hit) => (hit ? metrics.keys.hit() : metrics.keys.miss()),
        });
        keys.watchChanges();
        return keys;
      },
    },
    {
      provide: CredentialCache,
      inject: [NATS, INGRESS_CONFIG],
      useFactory: (nc: NatsConnection, cfg: IngressConfig) => new CredentialCache(nc, { timeoutMs: cfg.lookupTimeoutMs }),
    },
    {
      provide: PlanStore,
      inject: [NATS, LOGGER, CredentialCache],
      useFactory: async (nc: NatsConnection, log: Logger, creds: CredentialCache) => {
        const plans = new PlanStore(nc, log);
        plans.onChange(() => creds.invalidate());
        await plans.start();
        return plans;
      },
    },
    {
      provide: UpstreamPools,
      inject: [INGRESS_CONFIG],
      useFactory: (cfg: IngressConfig) => new UpstreamPools(cfg.timeouts, cfg.upstreamConnections),
    },
    {
      provide: UsagePublisher,
      inject: [NATS, INGRESS_CONFIG, LOGGER],
      useFactory: (nc: NatsConnection, cfg: IngressConfig, log: Logger) =>
        new UsagePublisher(nc, {
          maxSpooled: cfg.usageSpoolMax,
          spoolDir: cfg.usageSpoolDir,
          onError: (err, pending) => log.warn({ err: err.message, pending }, 'usage publish failed; spooled for retry'),
        }),
    },
    {
      provide: ChannelHealthBook,
      inject: [INGRESS_CONFIG],
      useFactory: (cfg: IngressConfig) => new ChannelHealthBook(cfg.health),
    },
    {
      provide: ClusterRateLimiter,
      inject: [NATS],
      useFactory: (nc: NatsConnection) => ClusterRateLimiter.open(nc),
    },
    {
      provide: HANDLER_DEPS,
      inject: [KeyCache, PlanStore, CredentialCache, UpstreamPools, UsagePublisher, INGRESS_CONFIG, LOGGER, ClusterRateLimiter, ChannelHealthBook, METRICS],
      useFactory: (
        keys: KeyCache,
        plans: PlanStore,
        credentials: CredentialCache,
        pools: UpstreamPools,
        usage: UsagePublisher,
        cfg: IngressConfig,
        log: Logger,
        limiter: ClusterRateLimiter,
        health: ChannelHealthBook,
        metrics: IngressMetrics,
      ): ChatDeps => ({
        keys,
        plans,
        credentials,
        pools,
        usage,
        tracer: trace.getTracer('switchyard-ingress'),
        timeouts: cfg.timeouts,
        race: cfg.race,
        limiter,
        health,
        pool: new PoolSelector(cfg.poolStrategy),
        metrics,
        log,
        tokens: createTokenCounter(cfg.tokenizer),
      }),
    },
    { provide: ChatCompletionsHandler, inject: [HANDLER_DEPS], useFactory: (deps: ChatDeps) => new ChatCompletionsHandler(deps) },
    { provide: OpenAIPassthrough, inject: [HANDLER_DEPS], useFactory: (deps: ChatDeps) => new OpenAIPassthrough(deps) },
    { provide: EmbeddingsHandler, inject: [OpenAIPassthrough], useFactory: (p: OpenAIPassthrough) => new EmbeddingsHandler(p) },
    { provide: CompletionsHandler, inject: [OpenAIPassthrough], useFactory: (p: OpenAIPassthrough) => new CompletionsHandler(p) },
    { provide: ModelListsHandler, inject: [KeyCache, PlanStore], useFactory: (keys: KeyCache, plans: PlanStore) => new ModelListsHandler(keys, plans) },
  ],
})
export class IngressModule implements OnApplicationShutdown {
  constructor(
    @Inject(NATS) private readonly nc: NatsConnection,
    @Inject(PlanStore) private readonly plans: PlanStore,
    @Inject(UsagePublisher) private readonly usage: UsagePublisher,
    @Inject(UpstreamPools) private readonly pools: UpstreamPools,
  ) {}

  /** After the HTTP server stopped taking requests: flush usage, then close. */
  async onApplicationShutdown() {
    this.plans.stop();
    await this.usage.close(10_000);
    await this.pools.close();
    await this.nc.drain().catch(() => undefined);
  }
}
