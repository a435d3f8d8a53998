import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { SpanKind, SpanStatusCode, type Span, type Tracer } from '@opentelemetry/api';
import type { PlanCandidate, TokenUsage } from '@switchyard/contracts';
import { costNano } from '@switchyard/pricing';
import type { UsagePublisher } from '@switchyard/bus';
import { spansExported, startChildSpan, startRequestSpan, type Logger } from '@switchyard/telemetry';
import type { KeyCache, ResolvedKey } from '../auth/key-cache';
import { authenticate } from '../auth/authenticate';
import { GatewayError } from '../errors/gateway-error';
import { asGatewayError, toOpenAIError } from '../errors/openai-error';
import type { RaceConfig, UpstreamTimeouts } from '../ingress.config';
import type { PlanStore } from '../plan/plan.store';
import { buildChatCompletionsRequest } from '../providers/openai/api';
import { OpenAIStreamObserver } from '../providers/openai/stream';
import { readOpenAIUsage } from '../providers/openai/usage';
import type { ChannelAccess, CredentialCache } from '../upstream/credential.cache';
import type { UpstreamPools } from '../upstream/upstream.pool';
import { OutputTally, estimatePromptTokens, estimateViewPromptTokens, type TokenCounter } from '../usage/token-estimate';
import { canonicalOf, readChatRequest, readTranslatedRequest, type ChatRequestView } from './chat-request.validation';
import {
  CLIENT_PROTOCOLS,
  SseParser,
  type SseEvent,
  UPSTREAM_PROTOCOLS,
  formatSse,
  type CanonicalMessage,
  type CanonicalRequest,
  type CanonicalResponse,
  type CanonicalUsage,
  type ClientProtocolId,
  type ClientRequestContext,
  type Protocol,
  type StreamDecoder,
  type StreamEncoder,
  type StreamEvent,
  type WireEvent,
} from '@switchyard/providers';
import { buildUpstreamHttp, upstreamProtocolOf } from '../protocol/upstream-http';
import { renderClientError, toCanonicalError } from '../protocol/client-errors';
import {
  backoffDelayMs,
  explanationToHeader,
  explanationToSpanAttribute,
  formatRouteErrors,
  keyRoutePolicy,
  MIDSTREAM_FAILOVER_HEADER,
  planRoute,
  resolveRoutePreferences,
  routingActionFor,
  type AttemptPlan,
  type PlannedAttempt,
  type PlannerConfig,
  type PoolSelector,
  type RoutePreferences,
} from '@switchyard/routing';
import type { ChannelHealthBook } from '../routing/channel-health.book';
import type { IngressMetrics } from '../metrics/ingress.metrics';
import { UpstreamAttempt, abortAttemptsOnClientClose } from './upstream-attempt';
import { applyModelVariant, resolveModel, variantOfAllowedModel } from './model-variant.resolution';
import { recordRequest } from '../usage/request-record';
import type { ClusterRateLimiter } from '../limits/cluster-rate-limiter';
import { admitOrThrow } from '../limits/admit';
import type { SpendGuard } from '../spend/spend-guard';
import type { SpendHold } from '../spend/lease-book';
import { chatSpendEstimate } from '../spend/spend-estimate';

export interface ChatDeps {
  keys: KeyCache;
  plans: PlanStore;
  credentials: CredentialCache;
  pools: UpstreamPools;
  usage: UsagePublisher;
  tracer: Tracer;
  timeouts: UpstreamTimeouts;
  race: RaceConfig;
  /** System routing defaults (INGRESS_ROUTE_MODE / INGRESS_ROUTE_PRESET); absent: the library's. */
  routeDefaults?: RoutePreferences;
  limiter: ClusterRateLimiter;
  health: ChannelHealthBook;
  pool: PoolSelector;
  metrics: IngressMetrics;
  log: Logger;
  /** Counts tokens for estimates when an upstream reports no usage. */
  tokens: TokenCounter;
  /** Balance and budget holds (absent: not enforced). */
  spend?: SpendGuard;
}

const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' };
const ZERO_USAGE: TokenUsage = { input_tokens: 0, output_tokens: 0, cached_input_tokens: 0, reasoning_tokens: 0 };
const CANCELLED = () => new GatewayError('upstream_error', { message: 'another channel answered first', errorClass: 'cancelled' });
const EARLY_PROBE_TIMEOUT = () => new GatewayError('upstream_timeout', { message: 'early probe got no answer within the race timeout', errorClass: 'timeout', timeoutPhase: 'total' });
const EARLY_PROBE_METRIC = { success: 'answered', failure: 'failed', none: 'none' } as const;
const CLIENT_GONE = () => new GatewayError('invalid_request', { message: 'client closed the request', status: 499, errorClass: 'client_abort' });

/** One attempt of a race or hedge and when it starts; an early probe races without deciding the outcome. */
interface StaggeredAttempt {
  attempt: PlannedAttempt;
  delayMs: number;
  earlyProbe?: boolean;
}

/** What one client request went through; becomes the usage event. */
interface Exchange {
  requestId: string;
  occurredAt: Date;
  startedAt: number;
  key: ResolvedKey;
  view: ChatRequestView;
  prefs: RoutePreferences;
  mode: string;
  span: Span;
  attempts: UpstreamAttempt[];
  winner: UpstreamAttempt | null;
  usage: TokenUsage | null;
  usageEstimated: boolean;
  modelServed: string;
  httpStatus: number;
  error: GatewayError | null;
  clientGone: boolean;
  /** The plan being run; a mid-stream failover continues on its next channel. */
  plan?: AttemptPlan;
  /** The open channel early-probed beside the pick, if any (its attempt's outcome goes to its breaker as the probe's). */
  earlyProbeChannelId?: string;
  hold: SpendHold | null;
}

/**
 * An attempt that has its first answer in hand and can be committed to the
 * client: the whole body for JSON, the first content for a stream. Until then
 * nothing has been written, so a failure can still go to another channel.
 */
type Opened = OpenedJson | OpenedStream | OpenedTranslatedJson | OpenedTranslatedStream;
/** A translated answer (client and channel speak different protocols). */
interface OpenedTranslatedJson {
  kind: 'tjson';
  attempt: UpstreamAttempt;
  span: Span;
  response: CanonicalResponse;
}
interface OpenedTranslatedStream {
  kind: 'tstream';
  attempt: UpstreamAttempt;
  span: Span;
  body: AsyncIterator<Buffer>;
  /** The stream `body` iterates, to see that it has ended before asking it. */
  source: Readable;
  parser: SseParser;
  decoder: StreamDecoder;
  encoder: StreamEncoder;
  held: string;
  ended: boolean;
  sawContent: boolean;
  /** Generated text, for an estimate when no usage arrives. */
  output: OutputTally;
  /** Mid-stream failover is on: an upstream error event is held back, and the text is kept as a prefix. */
  failover: boolean;
  /** Visible text so far (kept only with `failover`). */
  text: string;
  sawToolCall: boolean;
  sawFinish: boolean;
  /** Set when this attempt continues another's broken stream. */
  cont: TranslatedContinuation | null;
}

/** A translated continuation: the canonical request with the prefix, and the first attempt's encoder. */
interface TranslatedContinuation {
  canonical: CanonicalRequest;
  /** The client's encoder of the first attempt: the client keeps seeing one message. */
  encoder: StreamEncoder;
  /** What the earlier attempts delivered, added to this attempt's usage events for the client. */
  prior: TokenUsage;
  /** Tokens of the prefix, for an input estimate when no usage arrives. */
  prefixTokens: number;
}
interface OpenedJson {
  kind: 'json';
  attempt: UpstreamAttempt;
  span: Span;
  buf: Buffer;
  model: string;
  usage: TokenUsage | null;
}
interface OpenedStream {
  kind: 'stream';
  attempt: UpstreamAttempt;
  span: Span;
  body: AsyncIterator<Buffer>;
  /** The stream `body` iterates, to see that it has ended before asking it. */
  source: Readable;
  parser: SseParser;
  observer: OpenAIStreamObserver;
  /** Wire text held back until the commit. */
  held: string;
  sawDone: boolean;
  ended: boolean;
  /** Mid-stream failover is on: an upstream error event after content is held back, not relayed. */
  failover: boolean;
  /** The upstream sent an error event after content (held back because `failover`). */
  brokeWithError: boolean;
  /** Set when this attempt continues another's broken stream. */
  cont: Continuation | null;
}

/** A continuation of a broken stream: the request with the partial answer as prefix, and the chunk rewriter. */
interface Continuation {
  body: Record<string, unknown>;
  /** Chunk JSON as the client must see it (the first attempt's id, no second role chunk), or null to drop it. */
  rewrite: (data: string) => string | null;
}

/** Asked of OpenAI-compatible upstreams after the partial answer (an assistant message). */
export const CONTINUE_PROMPT = 'Continue your previous message exactly where it stopped. Do not repeat any of it and do not add any preamble.';

/**
 * POST /v1/chat/completions: authenticate from the key cache, pick channels
 * from the current plan, open them one at a time (fallback) or several at
 * once (race), commit the first that answers and abort the rest, relay the
 * answer (streams chunk by chunk as they arrive), and publish one usage
 * event. Nothing here waits on a database or the bus.
 */
export class ChatCompletionsHandler {
  /** Extra upstream attempts (race and hedge) running now, across all requests. */
  private parallelInFlight = 0;

  /** The planner's config over its defaults (one object: the planner merges it once). */
  private readonly plannerConfig: Partial<PlannerConfig>;

  constructor(private readonly deps: ChatDeps) {
    this.plannerConfig = { race: { enabled: deps.race.enabled, maxN: deps.race.maxParallel } };
  }

  async handle(req: FastifyRequest, reply: FastifyReply, protocol: ClientProtocolId = 'openai', ctx: ClientRequestContext = {}): Promise<void> {
    const startedAt = performance.now();
    const key = await authenticate(this.deps.keys, req);
    const view = protocol === 'openai' ? readChatRequest(req.body) : readTranslatedRequest(protocol, req.body, ctx);
    const resolved = resolveRoutePreferences({
      defaults: this.deps.routeDefaults,
      key: keyRoutePolicy(key),
      header: typeof req.headers['x-switchyard-route'] === 'string' ? req.headers['x-switchyard-route'] : null,
      midstreamHeader: typeof req.headers[MIDSTREAM_FAILOVER_HEADER] === 'string' ? req.headers[MIDSTREAM_FAILOVER_HEADER] : null,
      body: view.body.route,
    });
    if (!resolved.ok) {
      throw new GatewayError('invalid_request', {
        message: `Invalid routing preferences: ${formatRouteErrors(resolved.errors)}.`,
        param: resolved.errors[0]?.field ?? 'route',
        code: 'invalid_route',
      });
    }
    const prefs = resolved.value;
    if (!key.allowsModel(view.model) && !variantOfAllowedModel(key, this.deps.plans.current?.models, view.model)) {
      throw new GatewayError('permission_denied', {
        message: `This API key may not use the model '${view.model}'.`,
        code: 'model_not_allowed',
        param: 'model',
      });
    }
    await admitOrThrow(this.deps.limiter, key, reply);
    const plan = this.deps.plans.current;
    if (!plan) throw new GatewayError('no_channel', { message: 'No routing plan has been loaded yet; try again shortly.', code: 'no_routing_plan' });
    const resolvedModel = resolveModel(plan.models, view.model);
    if (!resolvedModel) {
      throw new GatewayError('model_not_found', {
        message: `The model '${view.model}' does not exist or is not served by any channel.`,
        param: 'model',
      });
    }
    // A variant (`-high`, `-thinking-2048`, …) routes by its base model with its reasoning applied.
    applyModelVariant(view, resolvedModel);
    const candidates = resolvedModel.candidates;
    // The worst case held against the balance and budgets before any upstream is called; settled in finish().
    const occurredAt = new Date();
    const hold = (await this.deps.spend?.holdOrThrow(key, candidates, chatSpendEstimate(view, req.headers['content-length']), occurredAt)) ?? null;

    const span = startRequestSpan(this.deps.tracer, 'POST /v1/chat/completions', {
      kind: SpanKind.SERVER,
      attributes: {
        'switchyard.request_id': req.id,
        'switchyard.model': view.model,
        'switchyard.stream': view.stream,
        'switchyard.key_id': key.key_id,
        'switchyard.route_mode_requested': prefs.mode,
      },
    });
    const ex: Exchange = {
      requestId: req.id,
      occurredAt,
      startedAt,
      key,
      view,
      prefs,
      mode: prefs.mode,
      span,
      attempts: [],
      winner: null,
      usage: null,
      usageEstimated: false,
      modelServed: '',
      httpStatus: 200,
      error: null,
      clientGone: false,
      hold,
    };
    abortAttemptsOnClientClose(reply.raw, ex);
    try {
      const plan = planRoute({
        model: view.model,
        candidates,
        // This replica's own view first; the router's cluster-wide snapshot
        // (in the plan) stands in for channels this replica has not tried yet.
        health: (channelId) => {
          const h = this.deps.health.health(channelId, view.model);
          if (!h.stats) {
            const fromRouter = candidates.find((c) => c.channel_id === channelId)?.health;
            if (fromRouter) h.stats = fromRouter;
          }
          return h;
        },
        preferences: prefs,
        config: this.plannerConfig,
        pool: this.deps.pool,
        stickyKey: key.key_id,
        inFlight: (channelId) => this.deps.health.inFlightOf(channelId),
        parallel: { inFlight: this.parallelInFlight, cap: this.deps.race.globalCap },
        now: Date.now,
        random: Math.random,
      });
      ex.mode = plan.mode;
      ex.plan = plan;
      if (spansExported()) {
        // Serialised only for a span that leaves the process.
        span.setAttribute('switchyard.route_mode', plan.mode);
        span.setAttribute('switchyard.route.explanation', explanationToSpanAttribute(plan.explanation));
      }
      if (req.headers['x-switchyard-explain'] === '1') void reply.header('x-switchyard-explain', explanationToHeader(plan.explanation));
      const opened = await this.execute(ex, plan);
      ex.winner = opened.attempt;
      if (opened.kind === 'json') this.commitJson(ex, opened, reply);
      else if (opened.kind === 'stream') await this.commitStream(ex, opened, reply);
      else if (opened.kind === 'tjson') this.commitTranslatedJson(ex, opened, reply);
      else await this.commitTranslatedStream(ex, opened, reply);
    } catch (e) {
      const err = asGatewayError(e);
      ex.error = err;
      ex.httpStatus = err.status;
      if (!reply.sent && !reply.raw.headersSent) {
        if (err.headers) void reply.headers(err.headers);
        const rendered = renderClientError(view.protocol, err);
        reply.status(rendered.status).send(rendered.body);
      }
    } finally {
      this.finish(ex);
    }
  }

  /**
   * Runs the plan: a race starts its first channels at once; otherwise
   * channels go one at a time, the first hedged when the plan says so, with
   * what each failure's class calls for in between (backoff, next channel
   * at once, or back to the client).
   */
  private async execute(ex: Exchange, plan: AttemptPlan): Promise<Opened> {
    if (plan.attempts.length === 0) {
      throw new GatewayError('no_channel', {
        message: `No channel can serve '${ex.view.model}' right now: ${plan.explanation.no_candidate_reason ?? 'all excluded'}.`,
        code: 'no_available_channel',
      });
    }
    if (plan.start_at_once > 1) {
      return this.stagger(ex, plan.attempts.slice(0, plan.start_at_once).map((a) => ({ attempt: a, delayMs: 0 })), this.deps.race.timeoutMs);
    }
    let lastError: GatewayError | undefined;
    let failures = 0;
    const tried = new Set<string>();
    for (let i = 0; i < plan.attempts.length; i++) {
      const planned = plan.attempts[i]!;
      if (tried.has(planned.channel_id)) continue;
      if (ex.clientGone) break;
      try {
        if (i === 0 && ex.prefs.allow_fallbacks && (plan.hedge || plan.early_probe)) {
          const field: StaggeredAttempt[] = [{ attempt: planned, delayMs: 0 }];
          // Another request may have taken the early probe since this plan was made: then there is none.
          if (plan.early_probe && this.deps.health.breaker(plan.early_probe.channel_id, ex.view.model).earlyProbeDue()) {
            ex.earlyProbeChannelId = plan.early_probe.channel_id;
            field.push({ attempt: plan.early_probe, delayMs: 0, earlyProbe: true });
          }
          const hedgeWith = plan.hedge ? plan.attempts.find((a) => a.channel_id === plan.hedge!.channel_id) : undefined;
          if (hedgeWith) field.push({ attempt: hedgeWith, delayMs: plan.hedge!.after_ms });
          if (field.length > 1) {
            for (const f of field) tried.add(f.attempt.channel_id);
            return await this.stagger(ex, field);
          }
        }
        tried.add(planned.channel_id);
        return await this.openPlanned(ex, planned);
      } catch (e) {
        const err = asGatewayError(e);
        lastError = err;
        const action = routingActionFor(err.errorClass ?? 'unknown');
        if (!err.retryable || !action.next_channel || !ex.prefs.allow_fallbacks) throw err;
        failures++;
        this.deps.log.warn({ request_id: ex.requestId, channel_id: err.channelId, error_class: err.errorClass }, 'upstream attempt failed; trying the next channel');
        if (action.backoff && i + 1 < plan.attempts.length) await sleep(backoffDelayMs(failures - 1, Math.random));
      }
    }
    throw lastError ?? new GatewayError('no_channel', { message: 'No channel could serve the request.', code: 'no_available_channel' });
  }

  /** Opens a planned attempt unless its breaker refuses (another request took the probe slot). */
  private openPlanned(ex: Exchange, planned: PlannedAttempt, cont: Continuation | null = null, tcont: TranslatedContinuation | null = null): Promise<Opened> {
    if (!this.deps.health.begin(planned.candidate, ex.view.model, planned.early_probe)) {
      return Promise.reject(
        new GatewayError('no_channel', {
          message: `channel ${planned.channel_id} is not accepting requests (circuit open)`,
          retryable: true,
          channelId: planned.channel_id,
          errorClass: 'transient',
        }),
      );
    }
    return this.open(ex, planned.candidate, cont, tcont);
  }

  /**
   * Starts attempts at their delays (0 for a race, a p95 TTFT for a hedge);
   * the first to open wins and the others are aborted at once. When every
   * started attempt has failed, the next waiting one starts right away. All
   * failed → 503 naming each attempt (or the one permanent error); the
   * optional deadline passed with nothing open → 504.
   * An early probe races like the others but never decides the client's
   * outcome: its failure is not one of the request's errors, and when
   * everything else has failed it is aborted rather than waited for.
   */
  private stagger(ex: Exchange, field: StaggeredAttempt[], deadlineMs?: number): Promise<Opened> {
    const started = ex.attempts.length;
    return new Promise<Opened>((resolve, reject) => {
      let settled = false;
      /** Attempts running, early probe not counted. */
      let running = 0;
      let next = 0;
      const errors: GatewayError[] = [];
      const timers: NodeJS.Timeout[] = [];
      const finish = () => {
        settled = true;
        for (const t of timers) clearTimeout(t);
      };
      const failAll = () => {
        finish();
        for (const a of ex.attempts.slice(started)) {
          if (a.endedAt !== null) continue;
          // Only an early probe can still be running here.
          a.abort(CANCELLED());
          a.fail(CANCELLED());
        }
        const permanent = errors.find((err) => !err.retryable);
        if (permanent || errors.length === 1) return reject(permanent ?? errors[0]);
        const summary = errors.map((err) => `${err.channelId ?? '?'}: ${err.errorClass ?? err.kind}${err.upstreamStatus ? ` (${err.upstreamStatus})` : ''}`).join('; ');
        reject(
          new GatewayError('no_channel', {
            message: `Every channel tried failed: ${summary}.`,
            code: 'all_channels_failed',
            errorClass: errors[0]?.errorClass ?? 'unknown',
            retryable: errors.every((err) => err.retryable),
          }),
        );
      };
      const launch = () => {
        if (settled || next >= field.length) return;
        const { attempt, earlyProbe } = field[next++]!;
        const parallel = next > 1;
        if (parallel) this.parallelInFlight++;
        if (!earlyProbe) running++;
        this.openPlanned(ex, attempt).then(
          (opened) => {
            if (!earlyProbe) running--;
            if (parallel) this.parallelInFlight = Math.max(0, this.parallelInFlight - 1);
            if (settled) {
              discard(opened);
              // A late early probe still answered: its channel is healthy, whoever served the client.
              this.report(ex, opened.attempt, CANCELLED(), undefined, earlyProbe ? null : undefined);
              return;
            }
            finish();
            if (parallel) this.deps.metrics.routing.raceWon(opened.attempt.candidate.channel_id, ex.view.model);
            for (const a of ex.attempts.slice(started)) {
              if (a === opened.attempt) continue;
              if (a.endedAt === null && a.candidate.channel_id === ex.earlyProbeChannelId) {
                // A channel slower than the pick may still have recovered: the early probe runs on to
                // its own answer (bounded by the race timeout), booked as a loser now.
                a.markLost(CANCELLED());
                setTimeout(() => a.abort(EARLY_PROBE_TIMEOUT()), this.deps.race.timeoutMs).unref();
                continue;
              }
              // Marked now, not when the abort lands, so the usage event built next says so.
              a.abort(CANCELLED());
              if (a.endedAt === null) a.fail(CANCELLED());
            }
            resolve(opened);
          },
          (e: unknown) => {
            if (!earlyProbe) running--;
            if (parallel) this.parallelInFlight = Math.max(0, this.parallelInFlight - 1);
            if (settled) return;
            if (!earlyProbe) errors.push(asGatewayError(e));
            if (running > 0) return;
            // Nothing of the request's own left running: do not wait for the hedge timer, nor for the early
            // probe (started with the first, so never among the waiting).
            if (next < field.length) launch();
            else if (errors.length > 0) failAll();
          },
        );
      };
      for (let i = 0; i < field.length; i++) {
        if (field[i]!.delayMs <= 0) launch();
        else timers.push(setTimeout(launch, field[i]!.delayMs));
      }
      if (deadlineMs !== undefined) {
        timers.push(
          setTimeout(() => {
            if (settled) return;
            finish();
            for (const a of ex.attempts.slice(started)) {
              const err = new GatewayError('upstream_timeout', { message: 'race timed out', errorClass: 'timeout', timeoutPhase: 'total' });
              a.abort(err);
              if (a.endedAt === null) a.fail(err);
            }
            reject(
              new GatewayError('upstream_timeout', {
                message: `No channel answered within the race timeout (${deadlineMs} ms).`,
                code: 'timeout_race',
                errorClass: 'timeout',
                timeoutPhase: 'total',
              }),
            );
          }, deadlineMs),
        );
      }
    });
  }

  /** Sends the request to one channel and reads until there is something to commit. */
  private async open(ex: Exchange, candidate: PlanCandidate, cont: Continuation | null = null, tcont: TranslatedContinuation | null = null): Promise<Opened> {
    const attempt = new UpstreamAttempt(candidate, performance.now() - ex.startedAt, this.deps.timeouts);
    ex.attempts.push(attempt);
    const span = startChildSpan(
      this.deps.tracer,
      'upstream attempt',
      {
        kind: SpanKind.CLIENT,
        attributes: { 'switchyard.channel_id': candidate.channel_id, 'switchyard.provider': candidate.provider, 'gen_ai.request.model': candidate.upstream_model },
      },
      ex.span,
    );
    try {
      const access = await this.deps.credentials.access(candidate.channel_id);
      if (access.scheme === 'bearer') attempt.onAuthRejected = this.deps.credentials.rejecter(candidate.channel_id, access);
      const upstream = upstreamProtocolOf(candidate.provider);
      if (tcont || ex.view.protocol !== 'openai' || upstream !== 'openai') return await this.openTranslated(ex, candidate, attempt, span, upstream, access, tcont);
      const res = await attempt.send(this.deps.pools, buildChatCompletionsRequest(candidate, cont?.body ?? ex.view.body, access));
      if (!ex.view.stream) {
        const { buf, parsed: body } = await attempt.readJson(res);
        const parsed = (body ?? {}) as { model?: unknown; usage?: unknown };
        attempt.markFirstToken();
        return {
          kind: 'json',
          attempt,
          span,
          buf,
          model: typeof parsed.model === 'string' ? parsed.model : candidate.upstream_model,
          usage: readOpenAIUsage(parsed.usage),
        };
      }
      const opened: OpenedStream = {
        kind: 'stream',
        attempt,
        span,
        body: (res.body as AsyncIterable<Buffer>)[Symbol.asyncIterator](),
        source: res.body,
        parser: new SseParser(),
        observer: new OpenAIStreamObserver(ex.view.clientWantsUsage, failoverWanted(ex)),
        held: '',
        sawDone: false,
        ended: false,
        failover: failoverWanted(ex),
        brokeWithError: false,
        cont,
      };
      attempt.armFirstToken();
      const events: SseEvent[] = [];
      try {
        // Hold events back until the first content (or the end): a channel that
        // fails before it says anything can still be replaced.
        while (!opened.observer.sawContent && !opened.observer.finished && !opened.sawDone && !opened.ended) {
          const next = await opened.body.next();
          if (next.done) {
            opened.parser.end(events);
            opened.ended = true;
          } else opened.parser.push(next.value, events);
          opened.held += this.encode(events, opened);
          events.length = 0;
        }
      } catch (e) {
        throw attempt.classifyThrown(e, false);
      }
      if (opened.observer.upstreamError !== undefined && !opened.observer.sawContent) {
        throw new GatewayError('upstream_error', {
          message: 'The upstream provider sent an error before any content.',
          errorClass: 'transient',
          retryable: true,
          provider: candidate.provider,
          channelId: candidate.channel_id,
        });
      }
      if (!opened.observer.sawContent && !opened.observer.finished && !opened.sawDone) {
        throw new GatewayError('upstream_error', {
          message: 'The upstream provider closed the stream without sending anything.',
          errorClass: 'transient',
          retryable: true,
          provider: candidate.provider,
          channelId: candidate.channel_id,
        });
      }
      attempt.markFirstToken();
      return opened;
    } catch (e) {
      const cause = asGatewayError(e);
      let err = cause;
      if (attempt.endedAt === null) attempt.fail(err);
      else attempt.finish();
      // An attempt already marked (a race loser, a timed-out race) keeps that reason.
      if (attempt.errorClass === 'cancelled' && err.errorClass !== 'cancelled') err = CANCELLED();
      endAttemptSpan(span, attempt, err);
      // An early probe's channel learns how it really ended, even when the books call it a loser.
      this.report(ex, attempt, err, undefined, cause);
      throw err;
    }
  }

  /**
   * The translated path: the request goes through the canonical form to the
   * channel's protocol, and the answer comes back event by event into the
   * client's. Like the pass-through path, nothing is committed before the
   * first content.
   */
  private async openTranslated(
    ex: Exchange,
    candidate: PlanCandidate,
    attempt: UpstreamAttempt,
    span: Span,
    upstream: Protocol,
    access: ChannelAccess,
    tcont: TranslatedContinuation | null = null,
  ): Promise<OpenedTranslatedJson | OpenedTranslatedStream> {
    const canonical = tcont?.canonical ?? canonicalOf(ex.view);
    const body = UPSTREAM_PROTOCOLS[upstream].buildRequest(canonical, candidate.upstream_model);
    const res = await attempt.send(this.deps.pools, buildUpstreamHttp(candidate, body, canonical.stream, access));
    if (!canonical.stream) {
      const { parsed } = await attempt.readJson(res);
      let response: CanonicalResponse;
      try {
        response = UPSTREAM_PROTOCOLS[upstream].parseResponse(parsed);
      } catch (e) {
        throw attempt.malformed(e);
      }
      attempt.markFirstToken();
      return { kind: 'tjson', attempt, span, response };
    }
    const opened: OpenedTranslatedStream = {
      kind: 'tstream',
      attempt,
      span,
      body: (res.body as AsyncIterable<Buffer>)[Symbol.asyncIterator](),
      source: res.body,
      parser: new SseParser(),
      decoder: UPSTREAM_PROTOCOLS[upstream].newDecoder(),
      encoder: tcont?.encoder ?? CLIENT_PROTOCOLS[ex.view.protocol].newEncoder(canonical, { created: Math.floor(Date.now() / 1000), requestId: ex.requestId }),
      held: '',
      ended: false,
      sawContent: false,
      output: new OutputTally(),
      failover: failoverWanted(ex),
      text: '',
      sawToolCall: false,
      sawFinish: false,
      cont: tcont,
    };
    attempt.armFirstToken();
    let upstreamError: StreamEvent | undefined;
    try {
      while (!opened.sawContent && !opened.ended && !opened.decoder.finished) {
        const next = await opened.body.next();
        const events = this.decodeChunk(opened, next.done ? null : next.value);
        if (next.done) opened.ended = true;
        upstreamError ??= events.find((e) => e.type === 'error');
        if (upstreamError && !opened.sawContent) break;
        opened.held += this.encodeTranslated(opened, events);
      }
    } catch (e) {
      throw attempt.classifyThrown(e, false);
    }
    if (!opened.sawContent && (upstreamError || !opened.decoder.finished)) {
      throw new GatewayError('upstream_error', {
        message: upstreamError?.type === 'error' ? `The upstream provider failed before any content: ${upstreamError.error.message}` : 'The upstream provider closed the stream without sending anything.',
        errorClass: 'transient',
        retryable: true,
        provider: candidate.provider,
        channelId: candidate.channel_id,
      });
    }
    attempt.markFirstToken();
    return opened;
  }

  /** Upstream bytes (null: the end) → canonical events, noting content. */
  private decodeChunk(o: OpenedTranslatedStream, chunk: Buffer | null): StreamEvent[] {
    const sse: Array<{ event: string | undefined; data: string }> = [];
    if (chunk) o.parser.push(chunk, sse);
    else o.parser.end(sse);
    let events: StreamEvent[] = [];
    for (const e of sse) o.decoder.push(e.event, e.data, events);
    if (!chunk) o.decoder.end(events);
    for (const e of events) {
      if (e.type === 'text_delta' || e.type === 'thinking_delta') {
        o.sawContent = true;
        o.output.push(e.text);
        if (o.failover && e.type === 'text_delta') o.text += e.text;
      } else if (e.type === 'tool_call_start' || e.type === 'finish') {
        o.sawContent = true;
        if (e.type === 'finish') o.sawFinish = true;
        else o.sawToolCall = true;
      } else if (e.type === 'tool_call_delta') o.output.push(e.argumentsDelta);
    }
    const cont = o.cont;
    if (cont) {
      // The client's message already started; its usage counts every attempt.
      events = events.filter((e) => e.type !== 'message_start');
      for (let i = 0; i < events.length; i++) {
        const e = events[i]!;
        if (e.type === 'usage') events[i] = { type: 'usage', usage: addCanonicalUsage(e.usage, cont.prior) };
      }
    }
    return events;
  }

  private encodeTranslated(o: OpenedTranslatedStream, events: StreamEvent[], end = false): string {
    const wire: WireEvent[] = [];
    for (const e of events) o.encoder.push(e, wire);
    if (end) o.encoder.end(wire);
    let out = '';
    for (const w of wire) out += formatSse(w);
    return out;
  }

  private commitTranslatedJson(ex: Exchange, o: OpenedTranslatedJson, reply: FastifyReply): void {
    o.attempt.finish();
    endAttemptSpan(o.span, o.attempt, null);
    ex.modelServed = o.response.model || o.attempt.candidate.upstream_model;
    ex.usage = o.response.usage ? tokenUsage(o.response.usage) : null;
    this.report(ex, o.attempt, null, ex.usage?.output_tokens);
    if (!ex.usage) {
      ex.usage = { ...ZERO_USAGE, input_tokens: this.promptTokens(ex) };
      ex.usageEstimated = true;
    }
    reply.status(200).header('content-type', 'application/json').send(
      CLIENT_PROTOCOLS[ex.view.protocol].renderResponse(o.response, { created: Math.floor(Date.now() / 1000), requestId: ex.requestId, request: canonicalOf(ex.view) }),
    );
  }

  private async commitTranslatedStream(ex: Exchange, first: OpenedTranslatedStream, reply: FastifyReply): Promise<void> {
    const raw = reply.raw;
    reply.hijack();
    raw.writeHead(200, { ...(reply.getHeaders() as Record<string, string>), ...SSE_HEADERS, 'x-request-id': ex.requestId });
    let o = first;
    if (o.held.length > 0) raw.write(o.held);
    const chain: OpenedTranslatedStream[] = [o];
    let r = await this.relayTranslated(ex, o, raw);
    while (r.failure && o.failover && !ex.clientGone && !o.sawToolCall && !o.sawFinish) {
      const next = await this.failOverTranslated(ex, chain, r.failure);
      if (!next) break;
      o = next;
      chain.push(o);
      ex.winner = o.attempt;
      if (o.held.length > 0) raw.write(o.held);
      r = await this.relayTranslated(ex, o, raw);
    }
    const failure = r.failure;
    // The upstream read failed (or failover found no channel): the encoder ends the stream with the client protocol's error event.
    if (failure && !r.told && !ex.clientGone && !raw.writableEnded && !raw.destroyed) {
      raw.write(this.encodeTranslated(o, [{ type: 'error', error: toCanonicalError(failure) }]));
    }
    // The end goes out before the books are written: often with the last bytes, in one write.
    if (!raw.writableEnded && !raw.destroyed) raw.end();
    if (chain.length > 1) {
      let estimated = false;
      for (const s of chain) {
        const u = this.translatedUsageOf(ex, s);
        s.attempt.delivered = u.usage;
        estimated ||= u.estimated;
      }
      ex.modelServed = o.attempt.candidate.upstream_model;
      ex.usage = sumUsage(chain.map((s) => s.attempt.delivered!));
      ex.usageEstimated = estimated;
    } else {
      ex.modelServed = o.attempt.candidate.upstream_model;
      const u = this.translatedUsageOf(ex, o);
      ex.usage = u.usage;
      ex.usageEstimated = u.estimated;
    }
    if (failure) {
      o.attempt.fail(failure);
      endAttemptSpan(o.span, o.attempt, failure);
      this.report(ex, o.attempt, ex.clientGone ? CLIENT_GONE() : failure);
      ex.error = ex.clientGone ? null : failure;
    } else {
      o.attempt.finish();
      endAttemptSpan(o.span, o.attempt, null);
      this.report(ex, o.attempt, null, (o.attempt.delivered ?? ex.usage).output_tokens);
    }
  }

  /** Estimated prompt tokens, for when the upstream reports none. */
  private promptTokens(ex: Exchange): number {
    return estimateViewPromptTokens(ex.view, this.deps.tokens);
  }

  /**
   * Relays one translated attempt to the client. `told`: the client already
   * got the error event (the encoder rendered the upstream's); with failover
   * on, an upstream error event is held back instead.
   */
  private async relayTranslated(ex: Exchange, o: OpenedTranslatedStream, raw: FastifyReply['raw']): Promise<{ failure: GatewayError | null; told: boolean }> {
    try {
      while (!o.ended) {
        const next = upstreamDrained(o.source) ? finishIterator(o.body) : await o.body.next();
        if (next.done) o.ended = true;
        let events = this.decodeChunk(o, next.done ? null : next.value);
        const err = events.find((e) => e.type === 'error');
        if (err && o.failover) events = events.filter((e) => e.type !== 'error');
        const out = this.encodeTranslated(o, events, o.ended && !err);
        if (out.length > 0) raw.write(out);
        if (err && err.type === 'error') {
          if (o.failover) void o.body.return?.().catch(() => undefined);
          const failure = new GatewayError('upstream_error', { message: err.error.message, code: 'stream_interrupted', errorClass: 'mid_stream', provider: o.attempt.candidate.provider, channelId: o.attempt.candidate.channel_id });
          return { failure, told: !o.failover };
        }
      }
    } catch (e) {
      return { failure: o.attempt.classifyThrown(e, true), told: false };
    }
    return { failure: null, told: false };
  }

  /**
   * Mid-stream failover on the translated path: the next untried channel of
   * the plan, any protocol, gets the request with the partial answer as the
   * assistant's prefix — Anthropic: an assistant prefill as the last message
   * (trailing whitespace trimmed, as Anthropic requires); Gemini: a model
   * turn; OpenAI-compatible: an assistant message and a request to continue.
   * Its events go through the first attempt's client encoder, so the client
   * sees one message.
   */
  private async failOverTranslated(ex: Exchange, chain: OpenedTranslatedStream[], err: GatewayError): Promise<OpenedTranslatedStream | null> {
    const broken = chain[chain.length - 1]!;
    broken.attempt.fail(err);
    endAttemptSpan(broken.span, broken.attempt, err);
    this.report(ex, broken.attempt, err);
    broken.attempt.delivered = this.translatedUsageOf(ex, broken).usage;
    const prior = sumUsage(chain.map((s) => s.attempt.delivered!));
    const partial = chain.map((s) => s.text).join('');
    const base = canonicalOf(ex.view);
    const prefixTokens = this.deps.tokens.count(partial);
    return this.continueOnNextChannel(ex, broken.attempt, 'tstream', (planned) =>
      this.openPlanned(ex, planned, null, {
        canonical: continuationRequest(base, partial, upstreamProtocolOf(planned.candidate.provider)),
        encoder: chain[0]!.encoder,
        prior,
        prefixTokens,
      }),
    );
  }

  /**
   * Mid-stream failover's search: the plan's untried channels in order (while
   * the client is there and attempts remain) until one opens a stream of
   * `kind`; `open` returns null for a channel that cannot continue.
   */
  private async continueOnNextChannel<K extends 'stream' | 'tstream'>(
    ex: Exchange,
    from: UpstreamAttempt,
    kind: K,
    open: (planned: PlannedAttempt) => Promise<Opened> | null,
  ): Promise<Extract<Opened, { kind: K }> | null> {
    for (const planned of ex.plan?.attempts ?? []) {
      if (ex.clientGone || ex.attempts.length >= MAX_ATTEMPTS) return null;
      if (ex.attempts.some((a) => a.candidate.channel_id === planned.channel_id)) continue;
      const opening = open(planned);
      if (!opening) continue;
      try {
        const next = await opening;
        if (next.kind === kind) {
          this.deps.log.warn({ request_id: ex.requestId, from: from.candidate.channel_id, to: planned.channel_id }, 'stream broke mid-way; continuing on the next channel');
          return next as Extract<Opened, { kind: K }>;
        }
        discard(next);
      } catch (e) {
        const failed = asGatewayError(e);
        this.deps.log.warn({ request_id: ex.requestId, channel_id: failed.channelId, error_class: failed.errorClass }, 'mid-stream continuation attempt failed');
      }
    }
    return null;
  }

  /** One translated attempt's tokens: the upstream's usage, else an estimate (its prompt includes any prefix). */
  private translatedUsageOf(ex: Exchange, o: OpenedTranslatedStream): { usage: TokenUsage; estimated: boolean } {
    const usage = o.decoder.usage;
    if (usage) {
      const u = tokenUsage(usage);
      // A failover attempt that broke may only have its start's usage (Anthropic's message_start): bill at least what it delivered.
      if (o.failover && !o.sawFinish) u.output_tokens = Math.max(u.output_tokens, o.output.tokens(this.deps.tokens));
      return { usage: u, estimated: false };
    }
    return {
      usage: {
        input_tokens: this.promptTokens(ex) + (o.cont?.prefixTokens ?? 0),
        output_tokens: o.output.tokens(this.deps.tokens),
        cached_input_tokens: 0,
        reasoning_tokens: 0,
      },
      estimated: true,
    };
  }

  /**
   * Closes one attempt's accounts (exactly once per attempt): metrics, hedge waste, and its channel's
   * health. `probeOutcome` is what an early probe's breaker hears instead of
   * `err` (null: it answered), since a probe booked as a race loser may still
   * have answered or failed for real.
   */
  private report(ex: Exchange, attempt: UpstreamAttempt, err: GatewayError | null, outputTokens?: number, probeOutcome?: GatewayError | null): void {
    const c = attempt.candidate;
    const earlyProbe = ex.earlyProbeChannelId === c.channel_id;
    const healthErr = earlyProbe && probeOutcome !== undefined ? probeOutcome : err;
    const m = this.deps.metrics;
    m.upstream.observe({
      provider: c.provider,
      channel: c.channel_id,
      model: ex.view.model,
      errorClass: err ? (err.errorClass ?? 'unknown') : null,
      ttftMs: attempt.ttftMs,
      tokens: err || !ex.usage ? undefined : { input: ex.usage.input_tokens, output: ex.usage.output_tokens, cached_input: ex.usage.cached_input_tokens, reasoning: ex.usage.reasoning_tokens },
    });
    if (err?.errorClass === 'cancelled') {
      // A race or hedge loser: the prompt it was sent is the waste, at that channel's input price.
      const promptTokens = ex.usage?.input_tokens ?? this.promptTokens(ex);
      m.routing.hedgeLost(c.channel_id, ex.view.model, costNano({ input_tokens: promptTokens, output_tokens: 0, cached_input_tokens: 0 }, c.price));
    }
    const probe = this.deps.health.end({
      candidate: attempt.candidate,
      model: ex.view.model,
      status: attempt.status,
      errorClass: healthErr ? (healthErr.errorClass ?? 'unknown') : null,
      ttftMs: attempt.ttftMs,
      latencyMs: attempt.latencyMs,
      outputTokens,
      retryAfterMs: healthErr?.retryAfterMs ?? null,
      earlyProbe,
    });
    if (probe) m.routing.earlyProbe(c.channel_id, ex.view.model, EARLY_PROBE_METRIC[probe]);
    m.routing.setBreaker(c.channel_id, ex.view.model, this.deps.health.breaker(c.channel_id, ex.view.model).state());
  }

  private commitJson(ex: Exchange, o: OpenedJson, reply: FastifyReply): void {
    o.attempt.finish();
    endAttemptSpan(o.span, o.attempt, null);
    this.report(ex, o.attempt, null, o.usage?.output_tokens);
    ex.modelServed = o.model;
    ex.usage = o.usage;
    if (!ex.usage) {
      ex.usage = { ...ZERO_USAGE, input_tokens: this.promptTokens(ex) };
      ex.usageEstimated = true;
    }
    // The upstream's bytes go out unchanged: parsed once for the books, never re-serialised.
    reply.status(200).header('content-type', 'application/json').send(o.buf);
  }

  private async commitStream(ex: Exchange, first: OpenedStream, reply: FastifyReply): Promise<void> {
    const raw = reply.raw;
    reply.hijack();
    raw.writeHead(200, { ...(reply.getHeaders() as Record<string, string>), ...SSE_HEADERS, 'x-request-id': ex.requestId });
    let o = first;
    if (o.held.length > 0) raw.write(o.held);
    /** Every attempt whose output reached the client, in order (more than one after a mid-stream failover). */
    const chain: OpenedStream[] = [o];
    let midStreamError = await this.relay(ex, o, raw);
    while (midStreamError && canFailOver(ex, o)) {
      const next = await this.failOver(ex, chain, midStreamError);
      if (!next) break;
      o = next;
      chain.push(o);
      ex.winner = o.attempt;
      if (o.held.length > 0) raw.write(o.held);
      midStreamError = await this.relay(ex, o, raw);
    }
    if (chain.length > 1) this.settleChainUsage(ex, chain);
    else this.settleStreamUsage(ex, o);
    if (midStreamError) {
      o.attempt.fail(midStreamError);
      endAttemptSpan(o.span, o.attempt, midStreamError);
      this.report(ex, o.attempt, ex.clientGone ? CLIENT_GONE() : midStreamError);
      ex.error = ex.clientGone ? null : midStreamError;
      // A failure after bytes went out: the stream ends with an error event, never silently.
      if (!ex.clientGone && !raw.writableEnded && !raw.destroyed) {
        raw.write(`data: ${JSON.stringify(toOpenAIError(midStreamError))}\n\n`);
        raw.end();
      }
      return;
    }
    // The end goes out before the books are written: often with the last bytes, in one write.
    if (!o.sawDone) raw.write('data: [DONE]\n\n');
    raw.end();
    o.attempt.finish();
    endAttemptSpan(o.span, o.attempt, null);
    this.report(ex, o.attempt, null, (o.attempt.delivered ?? ex.usage)?.output_tokens);
  }

  /** Relays one attempt's stream to the client; the mid-stream failure, or null when it completed. */
  private async relay(ex: Exchange, o: OpenedStream, raw: FastifyReply['raw']): Promise<GatewayError | null> {
    const events: SseEvent[] = [];
    try {
      while (!o.ended && !o.brokeWithError) {
        const next = upstreamDrained(o.source) ? finishIterator(o.body) : await o.body.next();
        if (next.done) {
          o.parser.end(events);
          o.ended = true;
        } else o.parser.push(next.value, events);
        if (events.length > 0) {
          const out = this.encode(events, o);
          events.length = 0;
          if (out.length > 0) raw.write(out);
        }
      }
    } catch (e) {
      return o.attempt.classifyThrown(e, true);
    }
    if (o.brokeWithError) void o.body.return?.().catch(() => undefined);
    if (o.brokeWithError || !(o.sawDone || o.observer.finished)) {
      return new GatewayError('upstream_error', {
        message: o.brokeWithError ? 'The upstream provider sent an error mid-stream.' : 'The upstream stream ended before the answer was complete.',
        code: 'stream_interrupted',
        errorClass: 'mid_stream',
        provider: o.attempt.candidate.provider,
        channelId: o.attempt.candidate.channel_id,
      });
    }
    return null;
  }

  /**
   * Mid-stream failover: closes the broken attempt's books (its delivered
   * tokens, at its own price) and opens the plan's next untried
   * OpenAI-protocol channel with the partial answer as an assistant message
   * and a request to continue. Its chunks are rewritten to the first
   * attempt's id, without a second role chunk, its usage chunk summed with
   * what the earlier attempts delivered. Null when no channel could continue.
   */
  private async failOver(ex: Exchange, chain: OpenedStream[], err: GatewayError): Promise<OpenedStream | null> {
    const broken = chain[chain.length - 1]!;
    broken.attempt.fail(err);
    endAttemptSpan(broken.span, broken.attempt, err);
    this.report(ex, broken.attempt, err);
    broken.attempt.delivered = this.streamUsageOf(ex, broken).usage;
    const prior = sumUsage(chain.map((s) => s.attempt.delivered!));
    const head = chain[0]!.observer;
    const messages = Array.isArray(ex.view.body.messages) ? (ex.view.body.messages as unknown[]) : [];
    const partial = chain.map((s) => s.observer.text).join('');
    const cont: Continuation = {
      body: { ...ex.view.body, messages: [...messages, { role: 'assistant', content: partial }, { role: 'user', content: CONTINUE_PROMPT }] },
      rewrite: continuationRewriter(head.id, head.created, head.model, prior),
    };
    return this.continueOnNextChannel(ex, broken.attempt, 'stream', (planned) =>
      upstreamProtocolOf(planned.candidate.provider) === 'openai' ? this.openPlanned(ex, planned, cont) : null,
    );
  }

  /** The tokens one attempt delivered: the upstream's usage, else an estimate from its prompt and output characters. */
  private streamUsageOf(ex: Exchange, o: OpenedStream): { usage: TokenUsage; estimated: boolean } {
    if (o.observer.usage) return { usage: o.observer.usage, estimated: false };
    const body = o.cont?.body ?? ex.view.body;
    return {
      usage: { input_tokens: estimatePromptTokens(body.messages, this.deps.tokens), output_tokens: o.observer.output.tokens(this.deps.tokens), cached_input_tokens: 0, reasoning_tokens: 0 },
      estimated: true,
    };
  }

  /** After a failover: each attempt's delivered tokens kept on it (billed at its own price); the request's usage is their sum. */
  private settleChainUsage(ex: Exchange, chain: OpenedStream[]): void {
    let estimated = false;
    for (const s of chain) {
      const u = this.streamUsageOf(ex, s);
      if (s.attempt.delivered === null || !u.estimated) s.attempt.delivered = u.usage;
      estimated ||= u.estimated;
    }
    const last = chain[chain.length - 1]!;
    ex.modelServed = last.observer.model || last.attempt.candidate.upstream_model;
    ex.usage = sumUsage(chain.map((s) => s.attempt.delivered!));
    ex.usageEstimated = estimated;
  }

  /** Events to wire text for the client, noting [DONE] and what the observer learns. */
  private encode(events: SseEvent[], o: OpenedStream): string {
    let out = '';
    for (let i = 0; i < events.length; i++) {
      const data = events[i]!.data;
      if (data === '[DONE]') {
        o.sawDone = true;
        out += 'data: [DONE]\n\n';
      } else if (o.observer.observe(data)) {
        if (o.failover && o.observer.upstreamError !== undefined && o.observer.sawContent) {
          // Held back: the stream may continue on another channel (or ends with our own error event).
          o.brokeWithError = true;
          break;
        }
        const d = o.cont === null ? data : o.cont.rewrite(data);
        if (d !== null) out += `data: ${d}\n\n`;
      }
    }
    return out;
  }

  private settleStreamUsage(ex: Exchange, o: OpenedStream): void {
    ex.modelServed = o.observer.model || o.attempt.candidate.upstream_model;
    if (o.observer.usage) {
      ex.usage = o.observer.usage;
      return;
    }
    // No usage from upstream (cut short, or a host that ignores include_usage): bill what was delivered.
    ex.usage = {
      input_tokens: this.promptTokens(ex),
      output_tokens: o.observer.output.tokens(this.deps.tokens),
      cached_input_tokens: 0,
      reasoning_tokens: 0,
    };
    ex.usageEstimated = true;
  }

  private finish(ex: Exchange): void {
    recordRequest(this.deps, {
      requestId: ex.requestId,
      occurredAt: ex.occurredAt,
      startedAt: ex.startedAt,
      span: ex.span,
      key: ex.key,
      modelRequested: ex.view.requestedModel ?? ex.view.model,
      modelServed: ex.modelServed,
      routeMode: ex.mode,
      stream: ex.view.stream,
      attempts: ex.attempts,
      winner: ex.winner,
      usage: ex.usage,
      usageEstimated: ex.usageEstimated,
      httpStatus: ex.httpStatus,
      error: ex.error,
      clientGone: ex.clientGone,
      hold: ex.hold,
    });
  }

}

/** A race loser that answered after the winner: close its body so the connection is freed. */
function discard(o: Opened): void {
  o.attempt.abort(CANCELLED());
  o.attempt.fail(CANCELLED());
  endAttemptSpan(o.span, o.attempt, CANCELLED());
  if (o.kind === 'stream' || o.kind === 'tstream') void o.body.return?.().catch(() => undefined);
}

const MAX_ATTEMPTS = 32;

const ITERATION_DONE: IteratorResult<Buffer> = { done: true, value: undefined };

/**
 * The upstream body's end arrived (usually with its last bytes) and all it
 * holds was read: asking the iterator would only learn that a tick later,
 * after the bytes just relayed went out, so the client's end would cost a
 * write of its own. Reads Node's stream state; without it, always false.
 */
function upstreamDrained(source: Readable): boolean {
  const state = (source as { _readableState?: { ended?: unknown; length?: unknown } })._readableState;
  return state?.ended === true && state.length === 0;
}

/** Lets a drained body's iterator run to its end (as if awaited: the stream is released the usual way); done now. */
function finishIterator(body: AsyncIterator<Buffer>): IteratorResult<Buffer> {
  void body.next().catch(() => undefined);
  return ITERATION_DONE;
}

/** Mid-stream failover asked for (key or request), fallbacks allowed, and one choice only. */
function failoverWanted(ex: Exchange): boolean {
  const n = ex.view.body.n;
  return ex.prefs.mid_stream_failover && ex.prefs.allow_fallbacks && (n === undefined || n === null || n === 1);
}

/**
 * A broken stream can continue elsewhere unless the client left, the answer
 * already finished, or a tool call had started (its arguments cannot be
 * resumed reliably from a partial JSON string).
 */
function canFailOver(ex: Exchange, o: OpenedStream): boolean {
  return o.failover && !ex.clientGone && !o.observer.sawToolCall && !o.observer.finished;
}

function addCanonicalUsage(u: CanonicalUsage, prior: TokenUsage): CanonicalUsage {
  return {
    ...u,
    input: u.input + prior.input_tokens,
    output: u.output + prior.output_tokens,
    cachedInput: u.cachedInput + prior.cached_input_tokens,
    cacheWrite: u.cacheWrite + (prior.cache_write_input_tokens ?? 0),
    reasoning: u.reasoning + prior.reasoning_tokens,
  };
}

/** The canonical request that asks the next channel to continue `partial` (see failOverTranslated). */
function continuationRequest(base: CanonicalRequest, partial: string, upstream: Protocol): CanonicalRequest {
  const prefix = upstream === 'anthropic' ? partial.trimEnd() : partial;
  const messages: CanonicalMessage[] = [...base.messages];
  if (prefix.length > 0) messages.push({ role: 'assistant', content: [{ type: 'text', text: prefix }] });
  if (upstream === 'openai') messages.push({ role: 'user', content: [{ type: 'text', text: CONTINUE_PROMPT }] });
  return { ...base, messages };
}

function sumUsage(us: readonly TokenUsage[]): TokenUsage {
  const out = { ...ZERO_USAGE };
  for (const u of us) {
    out.input_tokens += u.input_tokens;
    out.output_tokens += u.output_tokens;
    out.cached_input_tokens += u.cached_input_tokens;
    out.reasoning_tokens += u.reasoning_tokens;
    if (u.cache_write_input_tokens) out.cache_write_input_tokens = (out.cache_write_input_tokens ?? 0) + u.cache_write_input_tokens;
  }
  return out;
}

/**
 * Rewrites a continuation's chunks so the client sees one stream: the first
 * attempt's id, created and model; no second role chunk; the usage chunk
 * counting every attempt (`prior` = what the earlier attempts delivered).
 */
function continuationRewriter(id: string, created: number, model: string, prior: TokenUsage): (data: string) => string | null {
  return (data) => {
    let c: { id?: unknown; created?: unknown; model?: unknown; error?: unknown; usage?: Record<string, unknown> | null; choices?: Array<{ delta?: Record<string, unknown>; finish_reason?: unknown }> };
    try {
      c = JSON.parse(data) as typeof c;
    } catch {
      return data;
    }
    if (typeof c !== 'object' || c === null || c.error !== undefined) return data;
    if (id) c.id = id;
    if (created) c.created = created;
    if (model) c.model = model;
    const choice = Array.isArray(c.choices) ? c.choices[0] : undefined;
    if (choice?.delta) {
      delete choice.delta.role;
      const empty = Object.values(choice.delta).every((v) => v === null || v === '' || (Array.isArray(v) && v.length === 0));
      if (empty && !choice.finish_reason && !c.usage) return null;
    }
    if (c.usage && typeof c.usage === 'object') {
      const u = c.usage;
      const num = (v: unknown) => (typeof v === 'number' ? v : 0);
      u.prompt_tokens = num(u.prompt_tokens) + prior.input_tokens;
      u.completion_tokens = num(u.completion_tokens) + prior.output_tokens;
      u.total_tokens = num(u.prompt_tokens) + num(u.completion_tokens);
    }
    return JSON.stringify(c);
  };
}

function tokenUsage(u: CanonicalUsage): TokenUsage {
  const t: TokenUsage = { input_tokens: u.input, output_tokens: u.output, cached_input_tokens: u.cachedInput, reasoning_tokens: u.reasoning };
  if (u.cacheWrite > 0) t.cache_write_input_tokens = u.cacheWrite;
  return t;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function endAttemptSpan(span: Span, attempt: UpstreamAttempt, err: GatewayError | null): void {
  if (!span.isRecording()) return;
  span.setAttributes({ 'http.response.status_code': attempt.status });
  if (attempt.ttftMs !== null) span.setAttribute('switchyard.ttft_ms', attempt.ttftMs);
  if (err) {
    span.setAttribute('switchyard.error_class', err.errorClass ?? 'unknown');
    if (err.errorClass !== 'cancelled') span.setStatus({ code: SpanStatusCode.ERROR, message: err.kind });
  }
  span.end();
}

