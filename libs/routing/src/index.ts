export { buildPriorityPlan, compareCandidates, samePlanRouting } from './priority-plan';
export { compileModelAccess } from './model-access';

export { ChannelState, ChannelStateRegistry, channelModelKey, outcomeFromAttempt, RecentSamples, DEFAULT_CHANNEL_STATE_CONFIG } from './channel-state';
export type { AttemptOutcome, ChannelStateConfig, ChannelStats } from './channel-state';

export { SlidingWindowCounter } from './sliding-window';
export type { WindowCounts } from './sliding-window';

export { CircuitBreaker, DEFAULT_BREAKER_CONFIG } from './circuit-breaker';
export type { BreakerSnapshot, BreakerState, CircuitBreakerConfig, EarlyProbeOutcome } from './circuit-breaker';

export { CooldownBook } from './cooldowns';

export {
  classifyStatus,
  classifyUpstreamError,
  cooldownMsFor,
  countsAgainstChannel,
  parseRetryAfter,
  routingActionFor,
} from './error-classification';
export type { Classification, RoutingAction, UpstreamFailure } from './error-classification';

export { backoffDelayMs, DEFAULT_BACKOFF } from './backoff';
export type { BackoffConfig } from './backoff';

export {
  blendedPrice,
  DEFAULT_PRIORS,
  DEFAULT_SCORING,
  resolveWeights,
  sampleIndex,
  scoreCandidates,
  softmaxProbabilities,
  validWeights,
  WEIGHT_PRESETS,
} from './scoring';
export type { ColdStartPriors, ScoredCandidate, ScoreInput, ScoringConfig, ScoringWeights, WeightPreset } from './scoring';

export { PoolSelector, POOL_STRATEGIES, stableHash } from './pool-strategies';
export type { PoolContext, PoolMember, PoolStrategy } from './pool-strategies';

export {
  DEFAULT_ROUTE_PREFERENCES,
  formatRouteErrors,
  keyRouteDefaults,
  keyRoutePolicy,
  MAX_RACE_N,
  MIDSTREAM_FAILOVER_HEADER,
  parseRouteBody,
  parseRouteHeader,
  resolveRoutePreferences,
  ROUTE_HEADER,
  ROUTE_MODES,
} from './route-preferences';
export type { KeyRouteFields, KeyRoutePolicy, MaxPrice, RouteMode, RouteParse, RoutePreferences, RoutePreferencesPatch, RouteValidationError } from './route-preferences';

export { DEFAULT_PLANNER_CONFIG, explanationToHeader, explanationToSpanAttribute, planRoute } from './route-planner';
export type {
  AttemptPlan,
  CandidateExplanation,
  CandidateHealth,
  ExclusionReason,
  PickReason,
  PlanInput,
  PlannedAttempt,
  PlannerConfig,
  RouteExplanation,
} from './route-planner';

export { seededRandom } from './seeded-random';
