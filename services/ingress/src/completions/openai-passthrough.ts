import { openAIEndpoint, setAuthHeader } from '../protocol/upstream-auth';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { recordRequest } from '../usage/request-record';
import { admitOrThrow } from '../limits/admit';
import { SpanKind, type Span } from '@opentelemetry/api';
import { startRequestSpan } from '@switchyard/telemetry';
import type { PlanCandidate, TokenUsage } from '@switchyard/contracts';
import { formatRouteErrors, keyRoutePolicy, planRoute, resolveRoutePreferences, routingActionFor, type RoutePreferences } from '@switchyard/routing';
import type { ResolvedKey } from '../auth/key-cache';
import { authenticate } from '../auth/authenticate';
import type { ChatDeps } from '../chat/chat-completions.handler';
import { UpstreamAttempt, abortAttemptsOnClientClose } from '../chat/upstream-attempt';
import { GatewayError } from '../errors/gateway-error';
import { asGatewayError, toOpenAIError } from '../errors/openai-error';
import { upstreamProtocolOf } from '../protocol/upstream-http';
import { renderClientError } from '../protocol/client-errors';
import { readOpenAIUsage } from '../providers/openai/usage';
import { SseParser, type SseEvent } from '@switchyard/providers';
import { OutputTally, estimateTextTokens, type TokenCounter } from '../usage/token-estimate';
import type { SpendHold } from '../spend/lease-book';
import { surfaceSpendEstimate } from '../spend/spend-estimate';

/** The dependencies of the OpenAI-only surfaces: the chat handler's, shared. */
export type PassthroughDeps = Omit<ChatDeps, 'race'>;

/** A validated request of one surface. */
export interface SurfaceRequest {
  model: string;
  stream: boolean;
  /** The client asked for usage on its stream (`stream_options.include_usage`). */
  clientWantsUsage: boolean;
  /** The prompt, for an estimate when the upstream reports no usage: text, or a count of token ids given as such. */
  prompt: PromptInput;
  /** Sent upstream as is, with the channel's model id and without gateway fields. */
  body: Record<string, unknown>;
  /** Routing preferences from the body (`route`), if any. */
  route: unknown;
}

/** One OpenAI-shaped endpoint forwarded to OpenAI-compatible channels. */
export interface Surface {
  /** Span name, e.g. `POST /v1/embeddings`. */
  name: string;
  /** Appended to the channel's base URL, e.g. `/embeddings`. */
  upstreamPath: string;
  /** Validates the body; throws a 400 GatewayError. */
  read(body: unknown): SurfaceRequest;
}

const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' };
const ZERO_USAGE: TokenUsage = { input_tokens: 0, output_tokens: 0, cached_input_tokens: 0, reasoning_tokens: 0 };

interface Exchange {
  requestId: string;
  occurredAt: Date;
  startedAt: number;
  key: ResolvedKey;
  req: SurfaceRequest;
  span: Span;
  attempts: UpstreamAttempt[];
  winner: UpstreamAttempt | null;
  usage: TokenUsage | null;
  usageEstimated: boolean;
  modelServed: string;
  httpStatus: number;
  error: GatewayError | null;
  clientGone: boolean;
  hold: SpendHold | null;
}


/**
 * Forwards an OpenAI-shaped request (embeddings, legacy completions) to the
 * OpenAI-compatible channels serving its model: same key, model access, rate
 * limits and channel health as chat; channels tried one at a time in the
 * plan's fallback order; the upstream's bytes relayed unchanged (streams
 * event by event, the usage chunk asked for on the client's behalf hidden);
 * one usage event per request from the upstream's `usage`.
 */
export class OpenAIPassthrough {
  constructor(private readonly deps: PassthroughDeps) {}

  async handle(surface: Surface, request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const startedAt = performance.now();
    const key = await authenticate(this.deps.keys, request);
    const req = surface.read(request.body);
    const resolved = resolveRoutePreferences({
      defaults: this.deps.routeDefaults,
      key: keyRoutePolicy(key),
      header: typeof request.headers['x-switchyard-route'] === 'string' ? request.headers['x-switchyard-route'] : null,
      body: req.route,
    });
    if (!resolved.ok) {
      throw new GatewayError('invalid_request', {
        message: `Invalid routing preferences: ${formatRouteErrors(resolved.errors)}.`,
        param: resolved.errors[0]?.field ?? 'route',
        code: 'invalid_route',
      });
    }
    if (!key.allowsModel(req.model)) {
      throw new GatewayError('permission_denied', { message: `This API key may not use the model '${req.model}'.`, code: 'model_not_allowed', param: 'model' });
    }
    await admitOrThrow(this.deps.limiter, key, reply);
    const plan = this.deps.plans.current;
    if (!plan) throw new GatewayError('no_channel', { message: 'No routing plan has been loaded yet; try again shortly.', code: 'no_routing_plan' });
    const all = plan.models.get(req.model);
    if (!all) throw new GatewayError('model_not_found', { message: `The model '${req.model}' does not exist or is not served by any channel.`, param: 'model' });
    const candidates = all.filter((c) => upstreamProtocolOf(c.provider) === 'openai');
    if (candidates.length === 0) {
      throw new GatewayError('invalid_request', {
        message: `The model '${req.model}' is not served by an OpenAI-compatible channel, which ${surface.name} needs.`,
        param: 'model',
        code: 'unsupported_model',
      });
    }
    // The worst case held against the balance and budgets before any upstream is called; settled in finish().
    const occurredAt = new Date();
    const hold = (await this.deps.spend?.holdOrThrow(key, candidates, surfaceSpendEstimate(surface.upstreamPath, req, request.headers['content-length']), occurredAt)) ?? null;

    const span = startRequestSpan(this.deps.tracer, surface.name, {
      kind: SpanKind.SERVER,
      attributes: { 'switchyard.request_id': request.id, 'switchyard.model': req.model, 'switchyard.stream': req.stream, 'switchyard.key_id': key.key_id },
    });
    const ex: Exchange = {
      requestId: request.id,
      occurredAt,
      startedAt,
      key,
      req,
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
      await this.run(ex, surface, candidates, resolved.value, reply);
    } catch (e) {
      const err = asGatewayError(e);
      ex.error = err;
      ex.httpStatus = err.status;
      if (!reply.sent && !reply.raw.headersSent) {
        if (err.headers) void reply.headers(err.headers);
        const rendered = renderClientError('openai', err);
        reply.status(rendered.status).send(rendered.body);
      }
    } finally {
      this.finish(ex);
    }
  }

  /** Channels one at a time, in the plan's fallback order, until one answers. */
  private async run(ex: Exchange, surface: Surface, candidates: readonly PlanCandidate[], prefs: RoutePreferences, reply: FastifyReply): Promise<void> {
    const model = ex.req.model;
    const plan = planRoute({
      model,
      candidates,
      health: (channelId) => this.deps.health.health(channelId, model),
      preferences: { ...prefs, mode: 'fallback', hedge: false, race_n: 1 },
      pool: this.deps.pool,
      stickyKey: ex.key.key_id,
      inFlight: (channelId) => this.deps.health.inFlightOf(channelId),
      parallel: { inFlight: 0, cap: 0 },
      now: Date.now,
      random: Math.random,
    });
    if (plan.attempts.length === 0) {
      throw new GatewayError('no_channel', {
        message: `No channel can serve '${model}' right now: ${plan.explanation.no_candidate_reason ?? 'all excluded'}.`,
        code: 'no_available_channel',
      });
    }
    let lastError: GatewayError | undefined;
    for (const planned of plan.attempts) {
      if (ex.clientGone) break;
      if (!this.deps.health.begin(planned.candidate, model)) {
        lastError = new GatewayError('no_channel', { message: `channel ${planned.channel_id} is not accepting requests (circuit open)`, retryable: true, channelId: planned.channel_id, errorClass: 'transient' });
        continue;
      }
      const attempt = new UpstreamAttempt(planned.candidate, performance.now() - ex.startedAt, this.deps.timeouts);
      ex.attempts.push(attempt);
      try {
        await this.attempt(ex, surface, attempt, reply);
        return;
      } catch (e) {
        const err = asGatewayError(e);
        if (attempt.endedAt === null) attempt.fail(err);
        this.report(ex, attempt, err);
        // Bytes already went out: the stream ended with an error event; nothing to retry.
        if (reply.raw.headersSent) {
          ex.error = ex.clientGone ? null : err;
          ex.httpStatus = ex.clientGone ? 499 : ex.httpStatus;
          return;
        }
        lastError = err;
        const action = routingActionFor(err.errorClass ?? 'unknown');
        if (!err.retryable || !action.next_channel || !prefs.allow_fallbacks) throw err;
        this.deps.log.warn({ request_id: ex.requestId, channel_id: err.channelId, error_class: err.errorClass }, 'upstream attempt failed; trying the next channel');
      }
    }
    throw lastError ?? new GatewayError('no_channel', { message: 'No channel could serve the request.', code: 'no_available_channel' });
  }

  private async attempt(ex: Exchange, surface: Surface, attempt: UpstreamAttempt, reply: FastifyReply): Promise<void> {
    const candidate = attempt.candidate;
    const access = await this.deps.credentials.access(candidate.channel_id);
    const target = openAIEndpoint(candidate, access, surface.upstreamPath === '/embeddings' ? 'embeddings' : 'completions');
    if (access.scheme === 'bearer') attempt.onAuthRejected = this.deps.credentials.rejecter(candidate.channel_id, access);
    const out: Record<string, unknown> = { ...ex.req.body, model: candidate.upstream_model };
    delete out.route;
    if (ex.req.stream) {
      const so = typeof out.stream_options === 'object' && out.stream_options !== null ? out.stream_options : {};
      out.stream_options = { ...so, include_usage: true };
    }
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: ex.req.stream ? 'text/event-stream' : 'application/json' };
    setAuthHeader(candidate.provider, access, headers);
    const res = await attempt.send(this.deps.pools, {
      origin: target.origin,
      path: target.path,
      headers,
      body: JSON.stringify(out),
    });
    if (!ex.req.stream) {
      const { buf, parsed: body } = await attempt.readJson(res);
      const parsed = (body ?? {}) as { model?: unknown; usage?: unknown };
      attempt.markFirstToken();
      attempt.finish();
      ex.winner = attempt;
      ex.modelServed = typeof parsed.model === 'string' ? parsed.model : candidate.upstream_model;
      ex.usage = readOpenAIUsage(parsed.usage);
      if (!ex.usage) {
        ex.usage = { ...ZERO_USAGE, input_tokens: estimatePromptInput(ex.req.prompt, this.deps.tokens) };
        ex.usageEstimated = true;
      }
      this.report(ex, attempt, null);
      // The upstream's bytes go out unchanged.
      reply.status(200).header('content-type', 'application/json').send(buf);
      return;
    }
    await this.relayStream(ex, attempt, res.body as AsyncIterable<Buffer>, reply);
  }

  /** Relays an SSE stream event by event; the usage-only chunk is hidden unless the client asked. */
  private async relayStream(ex: Exchange, attempt: UpstreamAttempt, body: AsyncIterable<Buffer>, reply: FastifyReply): Promise<void> {
    const raw = reply.raw;
    const parser = new SseParser();
    const events: SseEvent[] = [];
    const seen = { done: false, finished: false, output: new OutputTally(), usage: null as TokenUsage | null, model: '', error: false };
    attempt.armFirstToken();
    reply.hijack();
    raw.writeHead(200, { ...(reply.getHeaders() as Record<string, string>), ...SSE_HEADERS, 'x-request-id': ex.requestId });
    ex.winner = attempt;
    let failure: GatewayError | null = null;
    try {
      const it = body[Symbol.asyncIterator]();
      for (;;) {
        const next = await it.next();
        if (next.done) parser.end(events);
        else parser.push(next.value, events);
        let text = '';
        for (const e of events) {
          if (e.data === '[DONE]') {
            seen.done = true;
            text += 'data: [DONE]\n\n';
          } else if (observeTextChunk(e.data, seen, ex.req.clientWantsUsage)) text += `data: ${e.data}\n\n`;
        }
        events.length = 0;
        if (text.length > 0) {
          attempt.markFirstToken();
          raw.write(text);
        }
        if (next.done) break;
      }
    } catch (e) {
      failure = attempt.classifyThrown(e, true);
    }
    if (!failure && (seen.error || !(seen.done || seen.finished))) {
      failure = new GatewayError('upstream_error', {
        message: seen.error ? 'The upstream provider failed mid-stream.' : 'The upstream stream ended before the answer was complete.',
        code: 'stream_interrupted',
        errorClass: 'mid_stream',
        provider: attempt.candidate.provider,
        channelId: attempt.candidate.channel_id,
      });
    }
    ex.modelServed = seen.model || attempt.candidate.upstream_model;
    if (seen.usage) ex.usage = seen.usage;
    else {
      ex.usage = { ...ZERO_USAGE, input_tokens: estimatePromptInput(ex.req.prompt, this.deps.tokens), output_tokens: seen.output.tokens(this.deps.tokens) };
      ex.usageEstimated = true;
    }
    if (failure) {
      attempt.fail(failure);
      // A failure after bytes went out ends the stream with an error event, never silently.
      if (!ex.clientGone && !raw.writableEnded && !raw.destroyed && !seen.error) raw.write(`data: ${JSON.stringify(toOpenAIError(failure))}\n\n`);
      if (!raw.writableEnded && !raw.destroyed) raw.end();
      throw failure;
    }
    attempt.finish();
    this.report(ex, attempt, null);
    if (!seen.done) raw.write('data: [DONE]\n\n');
    raw.end();
  }

  /** Tells the health book and metrics how an attempt ended (once per attempt). */
  private report(ex: Exchange, attempt: UpstreamAttempt, err: GatewayError | null): void {
    const c = attempt.candidate;
    const model = ex.req.model;
    const ok = !err && ex.usage;
    this.deps.metrics.upstream.observe({
      provider: c.provider,
      channel: c.channel_id,
      model,
      errorClass: err ? (err.errorClass ?? 'unknown') : null,
      ttftMs: attempt.ttftMs,
      tokens: ok ? { input: ex.usage!.input_tokens, output: ex.usage!.output_tokens, cached_input: ex.usage!.cached_input_tokens, reasoning: ex.usage!.reasoning_tokens } : undefined,
    });
    this.deps.health.end({
      candidate: c,
      model,
      status: attempt.status,
      errorClass: err ? (err.errorClass ?? 'unknown') : null,
      ttftMs: attempt.ttftMs,
      latencyMs: attempt.latencyMs,
      outputTokens: ok ? ex.usage!.output_tokens : undefined,
      retryAfterMs: err?.retryAfterMs ?? null,
    });
    this.deps.metrics.routing.setBreaker(c.channel_id, model, this.deps.health.breaker(c.channel_id, model).state());
  }

  /** The request's one usage event. */
  private finish(ex: Exchange): void {
    recordRequest(this.deps, {
      requestId: ex.requestId,
      occurredAt: ex.occurredAt,
      startedAt: ex.startedAt,
      span: ex.span,
      key: ex.key,
      modelRequested: ex.req.model,
      modelServed: ex.modelServed,
      routeMode: 'fallback',
      stream: ex.req.stream,
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

interface TextChunk {
  model?: unknown;
  choices?: Array<{ text?: unknown; finish_reason?: unknown; delta?: { content?: unknown } }>;
  usage?: unknown;
  error?: unknown;
}

/**
 * Notes what one streamed chunk says (model, text, finish, usage, error);
 * false for the usage-only chunk a client that did not ask must not see.
 */
function observeTextChunk(
  data: string,
  seen: { finished: boolean; output: OutputTally; usage: TokenUsage | null; model: string; error: boolean },
  clientWantsUsage: boolean,
): boolean {
  let chunk: TextChunk;
  try {
    chunk = JSON.parse(data) as TextChunk;
  } catch {
    return true;
  }
  if (chunk.error !== undefined) {
    seen.error = true;
    return true;
  }
  if (typeof chunk.model === 'string' && chunk.model) seen.model = chunk.model;
  for (const c of chunk.choices ?? []) {
    if (typeof c.text === 'string') seen.output.push(c.text);
    if (c.finish_reason) seen.finished = true;
  }
  if (chunk.usage) {
    const u = readOpenAIUsage(chunk.usage);
    if (u) seen.usage = u;
    if (!clientWantsUsage && (!chunk.choices || chunk.choices.length === 0)) return false;
  }
  return true;
}


/** Shared body checks: a JSON object with a string `model`. */
export function readModelBody(body: unknown): Record<string, unknown> & { model: string } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new GatewayError('invalid_request', { message: 'The request body must be a JSON object.', code: 'invalid_json' });
  }
  const b = body as Record<string, unknown>;
  if (typeof b.model !== 'string' || b.model.length === 0) {
    throw new GatewayError('invalid_request', {
      message: b.model === undefined ? "Missing required parameter: 'model'." : "Invalid type for 'model': expected a string.",
      param: 'model',
      code: b.model === undefined ? 'missing_required_parameter' : 'invalid_type',
    });
  }
  return b as Record<string, unknown> & { model: string };
}

/** Text or token-id inputs (`input`, `prompt`): their character count; throws a 400 when malformed. */
/** Prompt text, or — when the client sent token ids — how many it sent. */
export type PromptInput = string | readonly string[] | { tokenIds: number };

export function estimatePromptInput(p: PromptInput, counter: TokenCounter): number {
  return typeof p === 'object' && 'tokenIds' in p ? p.tokenIds : estimateTextTokens(p, counter);
}

/** Validates a `prompt`/`input` field: a string, strings, token ids, or arrays of token ids. */
export function readPromptInput(v: unknown, param: string): PromptInput {
  const bad = (msg: string) => new GatewayError('invalid_request', { message: msg, param, code: v === undefined ? 'missing_required_parameter' : 'invalid_type' });
  if (v === undefined || v === null) throw bad(`Missing required parameter: '${param}'.`);
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && v.length > 0) {
    if (v.every((x) => typeof x === 'string')) return v as string[];
    if (v.every((x) => typeof x === 'number' && Number.isInteger(x))) return { tokenIds: v.length };
    if (v.every((x) => Array.isArray(x) && x.length > 0 && x.every((n) => typeof n === 'number' && Number.isInteger(n)))) {
      return { tokenIds: (v as number[][]).reduce((s, x) => s + x.length, 0) };
    }
  }
  throw bad(`Invalid type for '${param}': expected a string, an array of strings, an array of token ids, or an array of token-id arrays.`);
}
