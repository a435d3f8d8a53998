import { PLAN_SCHEMA_V1, type CatalogChannel, type PlanCandidate, type RoutingPlanV1 } from '@switchyard/contracts';

/**
 * Orders candidates by priority: lower `priority` is tried first (1 before 2),
 * then higher weight, then channel id so the order is stable across routers.
 */
export function compareCandidates(a: PlanCandidate, b: PlanCandidate): number {
  return a.priority - b.priority || b.weight - a.weight || (a.channel_id < b.channel_id ? -1 : a.channel_id > b.channel_id ? 1 : 0);
}

/**
 * Builds the routing plan from the channel catalog: for every public model,
 * the enabled channels that serve it in priority order. Scoring on live
 * latency, price and health replaces the order in the routing-engine issue;
 * the plan's shape stays.
 */
export function buildPriorityPlan(channels: readonly CatalogChannel[], version: number, now: Date): RoutingPlanV1 {
  const models: RoutingPlanV1['models'] = {};
  for (const ch of channels) {
    if (!ch.enabled) continue;
    for (const m of ch.models) {
      const entry = (models[m.model] ??= { candidates: [] });
      entry.candidates.push({
        channel_id: ch.id,
        provider: ch.provider,
        base_url: ch.base_url,
        upstream_model: m.upstream_model,
        priority: ch.priority,
        weight: ch.weight,
        price: m.price,
      });
    }
  }
  for (const entry of Object.values(models)) entry.candidates.sort(compareCandidates);
  return { schema: PLAN_SCHEMA_V1, version, generated_at: now.toISOString(), models };
}

const withoutHealth = (k: string, v: unknown): unknown => (k === 'health' ? undefined : v);

/**
 * True when two plans route identically (ignores version, time and the live
 * health snapshot), so an unchanged catalog is not re-pushed as a routing change.
 */
export function samePlanRouting(a: RoutingPlanV1 | undefined, b: RoutingPlanV1): boolean {
  return a !== undefined && JSON.stringify(a.models, withoutHealth) === JSON.stringify(b.models, withoutHealth);
}
