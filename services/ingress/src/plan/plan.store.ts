import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { PLAN_BUCKET, PLAN_KEY, routingPlanV1Schema, type PlanCandidate, type RoutingPlanV1 } from '@switchyard/contracts';
import type { Logger } from '@switchyard/telemetry';

/** A plan indexed for the request path. */
export interface PlanIndex {
  version: number;
  models: ReadonlyMap<string, readonly PlanCandidate[]>;
  /** Public model ids, sorted, for /v1/models. */
  modelIds: readonly string[];
  /** Unix seconds the plan was generated, used as `created` in model lists. */
  createdSec: number;
}

export function indexPlan(plan: RoutingPlanV1): PlanIndex {
  const models = new Map<string, readonly PlanCandidate[]>();
  for (const [id, m] of Object.entries(plan.models)) if (m.candidates.length > 0) models.set(id, m.candidates);
  return {
    version: plan.version,
    models,
    modelIds: [...models.keys()].sort(),
    createdSec: Math.floor(Date.parse(plan.generated_at) / 1000),
  };
}

/**
 * The routing plan as pushed by the router through a NATS KV key. The watch
 * delivers the stored plan first, so a fresh ingress routes even while the
 * router is down, and keeps the last good plan whatever happens to the router.
 */
export class PlanStore {
  private index: PlanIndex | undefined;
  private readonly listeners: Array<(p: PlanIndex) => void> = [];
  private stopWatch: (() => void) | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly log: Logger,
  ) {}

  get current(): PlanIndex | undefined {
    return this.index;
  }

  onChange(fn: (p: PlanIndex) => void): void {
    this.listeners.push(fn);
  }

  async start(): Promise<void> {
    const kv: KV = await new Kvm(this.nc).create(PLAN_BUCKET, { history: 5 });
    const initial = await kv.get(PLAN_KEY);
    if (initial?.value?.length) this.apply(initial.json());
    const watch = await kv.watch({ key: PLAN_KEY });
    this.stopWatch = () => watch.stop();
    void (async () => {
      for await (const e of watch) {
        if (e.operation === 'PUT' && e.value.length > 0) this.apply(e.json());
      }
    })();
  }

  stop(): void {
    this.stopWatch?.();
  }

  private apply(raw: unknown): void {
    const parsed = routingPlanV1Schema.safeParse(raw);
    if (!parsed.success) {
      this.log.error({ err: parsed.error.message }, 'ignoring an invalid routing plan; keeping the last one');
      return;
    }
    if (this.index && parsed.data.version <= this.index.version) return;
    this.index = indexPlan(parsed.data);
    this.log.info({ version: this.index.version, models: this.index.modelIds.length }, 'routing plan loaded');
    for (const fn of this.listeners) fn(this.index);
  }
}
