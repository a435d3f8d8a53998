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
import { buildPriorityPlan, samePlanRouting } from '@switchyard/routing';
import type { PlanMetrics } from '@switchyard/metrics';
import type { Logger } from '@switchyard/telemetry';

/** Opens (creating when missing) the KV bucket that carries plans to every ingress. */
export async function openPlanBucket(nc: NatsConnection): Promise<KV> {
  return new Kvm(nc).create(PLAN_BUCKET, { history: 5 });
}

/**
 * Keeps the routing plan in the KV bucket in step with billing's channel
 * catalog: rebuilds on start, on every catalog-changed notice and on a timer,
 * and writes only when the routing actually changed. Ingress watches the key,
 * so there is no per-request round trip, and the last plan stays in the bucket
 * when this service is down.
 */
export class PlanPublisher {
  private current: RoutingPlanV1 | undefined;
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private again = false;
  private lastError: string | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly kv: KV,
    private readonly log: Logger,
    private readonly refreshMs: number,
    private readonly now: () => Date = () => new Date(),
    private readonly metrics?: PlanMetrics,
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
    this.timer = setInterval(() => void this.refresh(), this.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
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

  private setCurrent(plan: RoutingPlanV1): void {
    this.current = plan;
    this.metrics?.version.set(plan.version);
    this.metrics?.models.set(Object.keys(plan.models).length);
  }

  private async doRefresh(): Promise<void> {
    try {
      const reply = await this.nc.request(CATALOG_SUBJECT, '{}', { timeout: 3_000 });
      const catalog = catalogReplySchema.parse(reply.json());
      // Versions are wall-clock based so a restarted router still moves forward.
      const version = Math.max(this.now().getTime(), (this.current?.version ?? 0) + 1);
      const next = buildPriorityPlan(catalog.channels, version, this.now());
      this.lastError = undefined;
      if (samePlanRouting(this.current, next)) return;
      await this.kv.put(PLAN_KEY, JSON.stringify(next));
      this.setCurrent(next);
      this.metrics?.publishes.inc();
      this.log.info({ version, models: Object.keys(next.models).length }, 'routing plan published');
    } catch (e) {
      // Billing down: keep the last plan in the bucket; ingress keeps serving from it.
      this.lastError = (e as Error).message;
      this.metrics?.refreshErrors.inc();
      this.log.warn({ err: this.lastError }, 'catalog refresh failed; keeping the last plan');
    }
  }
}
