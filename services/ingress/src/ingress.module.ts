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
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { LeaseBook } from './spend/lease-book';
import { NatsLeaseTransport } from './spend/nats-lease.transport';
import { SpendGuard } from './spend/spend-guard';

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
      inject: [NATS, INGRESS_CONFIG, LOGGER],
      useFactory: (nc: NatsConnection, cfg: IngressConfig, log: Logger) => {
        const creds = new CredentialCache(nc, { timeoutMs: cfg.lookupTimeoutMs, log });
        creds.watchChanges();
        return creds;
      },
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
      provide: SpendGuard,
      inject: [NATS, INGRESS_CONFIG, LOGGER, METRICS],
      useFactory: (nc: NatsConnection, cfg: IngressConfig, log: Logger, metrics: IngressMetrics) => {
        if (!cfg.spend.enabled) return new SpendGuard(null, cfg.spend);
        const book = new LeaseBook(new NatsLeaseTransport(nc, cfg.spend.leaseTimeoutMs), {
          replicaId: `${hostname()}:${cfg.port}:${randomUUID().slice(0, 8)}`,
          sliceNano: cfg.spend.sliceNano,
          refusalBackoffMs: cfg.spend.refusalBackoffMs,
          onError: (err, scope) => log.warn({ err: err.message, scope: scope.scope, account_id: scope.accountId }, 'spend lease request to billing failed'),
          onRequest: (result) => metrics.spend.leaseRequests.inc({ result }),
        });
        book.start();
        return new SpendGuard(book, cfg.spend, (reason) => metrics.spend.refusals.inc({ reason }));
      },
    },
    {
      provide: HANDLER_DEPS,
      inject: [KeyCache, PlanStore, CredentialCache, UpstreamPools, UsagePublisher, INGRESS_CONFIG, LOGGER, ClusterRateLimiter, ChannelHealthBook, METRICS, SpendGuard],
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
        spend: SpendGuard,
      ): ChatDeps => ({
        keys,
        plans,
        credentials,
        pools,
        usage,
        tracer: trace.getTracer('switchyard-ingress'),
        timeouts: cfg.timeouts,
        race: cfg.race,
        routeDefaults: cfg.routeDefaults,
        limiter,
        health,
        pool: new PoolSelector(cfg.poolStrategy),
        metrics,
        log,
        tokens: createTokenCounter(cfg.tokenizer),
        spend,
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
    @Inject(SpendGuard) private readonly spend: SpendGuard,
  ) {}

  /** After the HTTP server stopped taking requests: flush usage, then close. */
  async onApplicationShutdown() {
    this.plans.stop();
    await this.usage.close(10_000);
    // Every hold is settled once the requests are done: give the unused allowance back.
    await this.spend.close();
    await this.pools.close();
    await this.nc.drain().catch(() => undefined);
  }
}
