import { z } from 'zod';
import { errorClassSchema, priceSnapshotSchema } from './usage.v1';

export const providerSchema = z.enum(['openai', 'azure-openai', 'anthropic', 'gemini', 'openai-compatible']);
export type Provider = z.infer<typeof providerSchema>;

const plainCount = z.number().int().nonnegative();
const optionalMs = z.number().nonnegative().nullable();

/**
 * The router's cluster-wide live state of one (channel, public model), built
 * from every ingress's usage events (the same shape as `ChannelStats` of
 * @switchyard/routing). Times are milliseconds; `window_*` cover the last
 * 60 s as of the plan's `generated_at`; `null` means "no sample yet".
 * Ingress may use it as a prior before it has seen the channel itself.
 */
export const channelHealthSchema = z.object({
  /** Attempts observed (successes + failures + neutral). */
  requests: plainCount,
  successes: plainCount,
  failures: plainCount,
  /** Client-caused outcomes (permanent, client_abort): never held against the channel. */
  neutral: plainCount,
  consecutive_failures: plainCount,
  ema_ttft_ms: optionalMs,
  ema_tokens_per_second: optionalMs,
  ema_latency_ms: optionalMs,
  p95_ttft_ms: optionalMs,
  recent_mean_ttft_ms: optionalMs,
  p95_latency_ms: optionalMs,
  recent_mean_latency_ms: optionalMs,
  window_successes: plainCount,
  window_failures: plainCount,
  /** Successes / (successes + failures) in the window; null when the window is empty. */
  window_success_rate: z.number().min(0).max(1).nullable(),
  last_success_at_ms: optionalMs,
  last_failure_at_ms: optionalMs,
  last_error_class: errorClassSchema.nullable(),
});
export type ChannelHealthV1 = z.infer<typeof channelHealthSchema>;

/** One place a public model can be served. No credentials: those stay in billing. */
export const planCandidateSchema = z.object({
  channel_id: z.string().min(1),
  provider: providerSchema,
  base_url: z.string().url(),
  upstream_model: z.string().min(1),
  priority: z.number().int(),
  weight: z.number().int().nonnegative(),
  price: priceSnapshotSchema,
  /** Cluster-wide live state from the router; absent when no attempt on this pair was observed. */
  health: channelHealthSchema.optional(),
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
