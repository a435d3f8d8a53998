import { z } from 'zod';
import { priceSnapshotSchema } from './usage.v1';

export const providerSchema = z.enum(['openai', 'azure-openai', 'anthropic', 'gemini', 'openai-compatible']);
export type Provider = z.infer<typeof providerSchema>;

/** One place a public model can be served. No credentials: those stay in billing. */
export const planCandidateSchema = z.object({
  channel_id: z.string().min(1),
  provider: providerSchema,
  base_url: z.string().url(),
  upstream_model: z.string().min(1),
  priority: z.number().int(),
  weight: z.number().int().nonnegative(),
  price: priceSnapshotSchema,
});
export type PlanCandidate = z.infer<typeof planCandidateSchema>;

export const PLAN_SCHEMA_V1 = 'plan.v1' as const;

/** The routing plan the router pushes to every ingress: ordered candidates per public model. */
export const routingPlanV1Schema = z.object({
  schema: z.literal(PLAN_SCHEMA_V1),
  /** Monotonic per router generation; ingress ignores older plans. */
  version: z.number().int().nonnegative(),
  generated_at: z.iso.datetime({ offset: true }),
  models: z.record(z.string(), z.object({ candidates: z.array(planCandidateSchema) })),
});
export type RoutingPlanV1 = z.infer<typeof routingPlanV1Schema>;
