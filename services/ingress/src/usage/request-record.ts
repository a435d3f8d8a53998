import { ROOT_CONTEXT, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { USAGE_SCHEMA_V1, type TokenUsage, type UsageEventV1 } from '@switchyard/contracts';
import { costNano } from '@switchyard/pricing';
import type { UsagePublisher } from '@switchyard/bus';
import { activeTraceId, type Logger } from '@switchyard/telemetry';
import type { ResolvedKey } from '../auth/key-cache';
import type { UpstreamAttempt } from '../chat/upstream-attempt';
import type { GatewayError } from '../errors/gateway-error';
import type { ClusterRateLimiter } from '../limits/cluster-rate-limiter';
import type { SpendHold } from '../spend/lease-book';
import type { SpendGuard } from '../spend/spend-guard';

const ZERO_USAGE: TokenUsage = { input_tokens: 0, output_tokens: 0, cached_input_tokens: 0, reasoning_tokens: 0 };
const NO_PRICE = { input_nano_per_mtok: 0, output_nano_per_mtok: 0, cached_input_nano_per_mtok: 0 };

/** What one client request went through, whatever its surface. */
export interface RequestRecord {
  requestId: string;
  occurredAt: Date;
  /** performance.now() when the request arrived. */
  startedAt: number;
  span: Span;
  key: ResolvedKey;
  modelRequested: string;
  modelServed: string;
  routeMode: string;
  stream: boolean;
  attempts: readonly UpstreamAttempt[];
  /** The attempt whose answer the client got (billed), if any. */
  winner: UpstreamAttempt | null;
  usage: TokenUsage | null;
  usageEstimated: boolean;
  httpStatus: number;
  error: GatewayError | null;
  clientGone: boolean;
  /** The request's spend hold (worst case against its leases), settled here to the real cost. */
  hold?: SpendHold | null;
}

export interface RecordDeps {
  usage: UsagePublisher;
  limiter: ClusterRateLimiter;
  log: Logger;
  spend?: SpendGuard;
}

/**
 * Closes a request's books: builds its one usage event (cost from the
 * winner's price snapshot), ends its span, charges its tokens to the key's
 * TPM, and hands the event to the publisher. The same for every surface.
 */
export function recordRequest(deps: RecordDeps, r: RequestRecord): void {
  const latencyMs = performance.now() - r.startedAt;
  const winner = r.winner;
  const usage = r.usage ?? ZERO_USAGE;
  const candidate = winner?.candidate;
  const price = candidate?.price ?? NO_PRICE;
  // First, before anything that could throw: settled to what billing will book (nothing without a winner), the rest returned.
  if (r.hold) deps.spend?.settle(r.hold, r.key, winner ? usage : null, winner ? price : null);
  const ttft = winner?.ttftMs ?? null;
  const genMs = winner && ttft !== null ? winner.latencyMs - ttft : 0;
  const status = r.clientGone ? 499 : r.httpStatus;
  // Served by more than one attempt (mid-stream failover): each priced at its own channel.
  let splitCost: number | null = null;
  for (const a of r.attempts) if (a.delivered) splitCost = (splitCost ?? 0) + costNano(a.delivered, a.candidate.price);
  const traceContext = trace.setSpan(ROOT_CONTEXT, r.span);
  const event: UsageEventV1 = {
    schema: USAGE_SCHEMA_V1,
    request_id: r.requestId,
    occurred_at: r.occurredAt.toISOString(),
    trace_id: activeTraceId(traceContext),
    key_id: r.key.key_id,
    account_id: r.key.account_id,
    model_requested: r.modelRequested,
    model_served: r.modelServed,
    channel_id: candidate?.channel_id ?? '',
    provider: candidate?.provider ?? '',
    route_mode: r.routeMode,
    stream: r.stream,
    status: r.error || r.clientGone ? 'error' : 'ok',
    http_status: status,
    error_class: r.clientGone ? 'client_abort' : (r.error?.errorClass ?? (r.error ? 'unknown' : null)),
    attempts: r.attempts.map((a) => ({
      channel_id: a.candidate.channel_id,
      provider: a.candidate.provider,
      status: a.status,
      error_class: a.errorClass,
      started_after_ms: round2(a.startedAfterMs),
      latency_ms: round2(a.latencyMs),
      ttft_ms: a.ttftMs === null ? null : round2(a.ttftMs),
      ...(a.delivered ? { usage: a.delivered, cost_nano: costNano(a.delivered, a.candidate.price) } : {}),
    })),
    usage,
    usage_estimated: r.usageEstimated,
    ttft_ms: ttft === null ? null : round2(ttft),
    latency_ms: round2(latencyMs),
    tokens_per_second: genMs > 0 && usage.output_tokens > 0 ? round2((usage.output_tokens * 1000) / genMs) : null,
    price,
    cost_nano: splitCost ?? (winner ? costNano(usage, price) : 0),
  };
  if (r.hold) event.lease_ids = r.hold.leaseIds;
  r.span.setAttributes({
    'switchyard.channel_id': event.channel_id,
    'switchyard.attempts': event.attempts.length,
    'http.response.status_code': status,
    'gen_ai.usage.input_tokens': usage.input_tokens,
    'gen_ai.usage.output_tokens': usage.output_tokens,
  });
  if (r.error) r.span.setStatus({ code: SpanStatusCode.ERROR, message: r.error.kind });
  r.span.end();
  if (r.key.tpm) deps.limiter.chargeTokens(r.key, usage.input_tokens + usage.output_tokens);
  try {
    deps.usage.publish(event, traceContext);
  } catch (e) {
    deps.log.error({ request_id: r.requestId, err: (e as Error).message }, 'usage event not published');
  }
}

export function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
