import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  CATALOG_CHANGED_SUBJECT,
  CATALOG_SUBJECT,
  PLAN_BUCKET,
  PLAN_KEY,
  catalogReplySchema,
  routingPlanV1Schema,
  type RoutingPlanV1,
} from '@switchyard/contracts';
import { buildPriorityPlan } from '@switchyard/routing';
import type { PlanMetrics } from '@switchyard/metrics';
import type { Logger } from '@switchyard/telemetry';
import { sameHealth, sameRouting, withHealth, type HealthLookup } from './plan-health';

/** Cluster-wide health carried in the plan, and how often it may be re-pushed. */
export interface PlanHealthSource {
  lookup: HealthLookup;
  /** Shortest interval between health-only publishes. */
  publishMs: number;
  /** Counts health-only publishes. */
  onHealthPublish?: () => void;
  /** The public models of each plan set (the book counts model variants under their base). */
  onModels?: (models: readonly string[]) => void;
}

/** Opens (creating when missing) the KV bucket that carries plans to every ingress. */
export async function openPlanBucket(nc: NatsConnection): Promise<KV> {
  return new Kvm(nc).create(PLAN_BUCKET, { history: 5 });
}

/**
 * Keeps the routing plan in the KV bucket in step with billing's channel
 * catalog: rebuilds on start, on every catalog-changed notice and on a timer,
 * and writes at once when the routing changed. Ingress watches the key, so
 * there is no per-request round trip, and the last plan stays in the bucket
 * when this service is down.
 *
 * With a health source, every candidate carries the router's cluster-wide
 * health of its (channel, model); a change of health alone is pushed at most
 * every `publishMs`, so busy traffic does not turn into a plan per request.
 * Every write gets a newer version.
 */
export class PlanPublisher {
  private current: RoutingPlanV1 | undefined;
  private timer: NodeJS.Timeout | undefined;
  private healthTimer: NodeJS.Timeout | undefined;
  /** Serialises writes to the bucket so versions stay in order. */
  private writing: Promise<void> = Promise.resolve();
  private refreshing: Promise<void> | undefined;
  private again = false;
  private lastError: string | undefined;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly kv: KV,
    private readonly log: Logger,
    private readonly refreshMs: number,
    private readonly now: () => Date = () => new Date(),
    private readonly metrics?: PlanMetrics,
    private readonly health?: PlanHealthSource,
  ) {}

  async start(): Promise<void> {
    const existing = await this.kv.get(PLAN_KEY);
    if (existing?.value?.length) {
      const parsed = routingPlanV1Schema.safeParse(existing.json());
      if (parsed.success) this.setCurrent(parsed.data);
    }
    const sub = this.nc.subscribe(CATALOG_CHANGED_SUBJECT);
    void (async () => {
      for await (const _ of sub) void this.refresh();
    })();
    await this.refresh();
    // A restarted router pushes the health it rebuilt at once, even when the routing is unchanged.
    await this.publishHealth();
    this.timer = setInterval(() => void this.refresh(), this.refreshMs);
    this.timer.unref();
    if (this.health) {
      this.healthTimer = setInterval(() => void this.publishHealth(), this.health.publishMs);
      this.healthTimer.unref();
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.healthTimer) clearInterval(this.healthTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
  }

  /** Pushes the current health when it differs from the plan in the bucket (routing unchanged). */
  publishHealth(): Promise<void> {
    const health = this.health;
    if (!health) return Promise.resolve();
    return this.serial(async () => {
      const current = this.current;
      if (!current) return;
      const next = withHealth(current, health.lookup);
      if (sameHealth(current, next)) return;
      try {
        await this.write({ ...next, version: this.nextVersion(), generated_at: this.now().toISOString() });
        health.onHealthPublish?.();
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, 'health publish failed; will retry');
      }
    });
  }

  get plan(): RoutingPlanV1 | undefined {
    return this.current;
  }

  get healthy(): boolean {
    return this.current !== undefined && this.lastError === undefined;
  }

  /** Coalesces overlapping refreshes: one runs, one more is queued at most. */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = this.doRefresh().finally(() => {
      this.refreshing = undefined;
      if (this.again) {
        this.again = false;
        void this.refresh();
      }
    });
    return this.refreshing;
  }

  private serial(fn: () => Promise<void>): Promise<void> {
    const run = this.writing.then(fn, fn);
    this.writing = run.catch(() => undefined);
    return run;
  }

  /** Versions are wall-clock based so a restarted router still moves forward. */
  private nextVersion(): number {
    return Math.max(this.now().getTime(), (this.current?.version ?? 0) + 1);
  }

  private async write(plan: RoutingPlanV1): Promise<void> {
    await this.kv.put(PLAN_KEY, JSON.stringify(plan));
    this.setCurrent(plan);
  }

  private setCurrent(plan: RoutingPlanV1): void {
    this.current = plan;
    this.health?.onModels?.(Object.keys(plan.models));
    this.metrics?.version.set(plan.version);
    this.metrics?.models.set(Object.keys(plan.models).length);
  }

  private async doRefresh(): Promise<void> {
    try {
      const reply = await this.nc.request(CATALOG_SUBJECT, '{}', { timeout: 3_000 });
      const catalog = catalogReplySchema.parse(reply.json());
      await this.serial(async () => {
        const built = buildPriorityPlan(catalog.channels, this.nextVersion(), this.now());
        this.lastError = undefined;
        if (sameRouting(this.current, built)) return;
        const next = this.health ? withHealth(built, this.health.lookup) : built;
        await this.write(next);
        this.metrics?.publishes.inc();
        this.log.info({ version: next.version, models: Object.keys(next.models).length }, 'routing plan published');
      });
    } catch (e) {
      // Billing down: keep the last plan in the bucket; ingress keeps serving from it.
      this.lastError = (e as Error).message;
      this.metrics?.refreshErrors.inc();
      this.log.warn({ err: this.lastError }, 'catalog refresh failed; keeping the last plan');
      // Billing starting or restarting: ask again soon rather than a whole refresh period later
      // (a router that starts first would otherwise serve a stale plan for up to ROUTER_REFRESH_MS).
      if (!this.retryTimer) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          void this.refresh();
        }, Math.min(1_000, this.refreshMs));
        this.retryTimer.unref();
      }
    }
  }
}
