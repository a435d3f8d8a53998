import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Dispatcher } from 'undici';
import { SpanKind, SpanStatusCode, ROOT_CONTEXT, trace, type Span, type Tracer } from '@opentelemetry/api';
import { USAGE_SCHEMA_V1, type PlanCandidate, type TokenUsage, type UsageEventV1 } from '@switchyard/contracts';
import { costNano } from '@switchyard/pricing';
import type { UsagePublisher } from '@switchyard/bus';
import { activeTraceId, type Logger } from '@switchyard/telemetry';
import type { KeyCache, ResolvedKey } from '../auth/key-cache';
import { GatewayError } from '../errors/gateway-error';
import { asGatewayError, toOpenAIError } from '../errors/openai-error';
import type { UpstreamTimeouts } from '../ingress.config';
import type { PlanStore } from '../plan/plan.store';
import { buildChatCompletionsRequest } from '../providers/openai/api';
import { OpenAIStreamObserver } from '../providers/openai/stream';
import { readOpenAIUsage } from '../providers/openai/usage';
import { SseParser, type SseEvent } from '../sse/sse.parser';
import type { CredentialCache } from '../upstream/credential.cache';
import type { UpstreamPools } from '../upstream/upstream.pool';
import { estimateTokensFromChars, promptChars } from '../usage/token-estimate';
import { authenticate } from '../auth/authenticate';
import { readChatRequest, type ChatRequestView } from './chat-request.validation';
import { UpstreamAttempt } from './upstream-attempt';

export interface ChatDeps {
  keys: KeyCache;
  plans: PlanStore;
  credentials: CredentialCache;
  pools: UpstreamPools;
  usage: UsagePublisher;
  tracer: Tracer;
  timeouts: UpstreamTimeouts;
  log: Logger;
}

const ROUTE_MODE = 'priority';
const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' };
const ZERO_USAGE: TokenUsage = { input_tokens: 0, output_tokens: 0, cached_input_tokens: 0, reasoning_tokens: 0 };

/** What one client request went through; becomes the usage event. */
interface Exchange {
  requestId: string;
  occurredAt: Date;
  startedAt: number;
  key: ResolvedKey;
  view: ChatRequestView;
  span: Span;
  attempts: UpstreamAttempt[];
  winner: UpstreamAttempt | null;
  usage: TokenUsage | null;
  usageEstimated: boolean;
  modelServed: string;
  httpStatus: number;
  error: GatewayError | null;
  clientGone: boolean;
}

/**
 * POST /v1/chat/completions: authenticate from the key cache, pick channels
 * from the current plan, call them in priority order until one answers, relay
 * the answer (streams chunk by chunk as they arrive), and publish one usage
 * event. Nothing here waits on a database or the bus.
 */
export class ChatCompletionsHandler {
  constructor(private readonly deps: ChatDeps) {}

  async handle(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const startedAt = performance.now();
    const key = await authenticate(this.deps.keys, req);
    const view = readChatRequest(req.body);
    if (!key.allowsModel(view.model)) {
      throw new GatewayError('permission_denied', {
        message: `This API key may not use the model '${view.model}'.`,
        code: 'model_not_allowed',
        param: 'model',
      });
    }
    const plan = this.deps.plans.current;
    if (!plan) throw new GatewayError('no_channel', { message: 'No routing plan has been loaded yet; try again shortly.', code: 'no_routing_plan' });
    const candidates = plan.models.get(view.model);
    if (!candidates) {
      throw new GatewayError('model_not_found', {
        message: `The model '${view.model}' does not exist or is not served by any channel.`,
        param: 'model',
      });
    }

    const span = this.deps.tracer.startSpan('POST /v1/chat/completions', {
      kind: SpanKind.SERVER,
      attributes: { 'switchyard.request_id': req.id, 'switchyard.model': view.model, 'switchyard.stream': view.stream, 'switchyard.key_id': key.key_id },
    });
    const ex: Exchange = {
      requestId: req.id,
      occurredAt: new Date(),
      startedAt,
      key,
      view,
      span,
      attempts: [],
      winner: null,
      usage: null,
      usageEstimated: false,
      modelServed: '',
      httpStatus: 200,
      error: null,
      clientGone: false,
    };
    try {
      await this.route(ex, candidates, req, reply);
    } catch (e) {
      const err = asGatewayError(e);
      ex.error = err;
      ex.httpStatus = err.status;
      if (!reply.sent && !reply.raw.headersSent) this.sendError(reply, err);
    } finally {
      this.finish(ex);
    }
  }

  private async route(ex: Exchange, candidates: readonly PlanCandidate[], req: FastifyRequest, reply: FastifyReply): Promise<void> {
    let lastError: GatewayError | undefined;
    const onClose = () => {
      if (!reply.raw.writableFinished) {
        ex.clientGone = true;
        for (const a of ex.attempts) a.abort(new GatewayError('invalid_request', { message: 'client closed the request', status: 499, errorClass: 'client_abort' }));
      }
    };
    reply.raw.once('close', onClose);
    for (const candidate of candidates) {
      if (ex.clientGone) break;
      const attempt = new UpstreamAttempt(candidate, performance.now() - ex.startedAt, this.deps.timeouts);
      ex.attempts.push(attempt);
      const attemptSpan = this.deps.tracer.startSpan(
        'upstream attempt',
        { kind: SpanKind.CLIENT, attributes: { 'switchyard.channel_id': candidate.channel_id, 'switchyard.provider': candidate.provider, 'gen_ai.request.model': candidate.upstream_model } },
        trace.setSpan(ROOT_CONTEXT, ex.span),
      );
      try {
        const apiKey = await this.deps.credentials.get(candidate.channel_id);
        const upstreamReq = buildChatCompletionsRequest(candidate, ex.view.body, apiKey);
        const res = await attempt.send(this.deps.pools, upstreamReq);
        if (ex.view.stream) await this.relayStream(ex, attempt, res, reply);
        else await this.relayJson(ex, attempt, res, reply);
        ex.winner = attempt;
        endAttemptSpan(attemptSpan, attempt, null);
        return;
      } catch (e) {
        const err = asGatewayError(e);
        if (attempt.endedAt === null) attempt.fail(err);
        endAttemptSpan(attemptSpan, attempt, err);
        lastError = err;
        // Once the client has bytes, or the error is the client's own, no other channel can help.
        if (reply.raw.headersSent || !err.retryable) throw err;
        this.deps.log.warn({ request_id: ex.requestId, channel_id: candidate.channel_id, error_class: err.errorClass }, 'upstream attempt failed; trying the next channel');
      }
    }
    throw lastError ?? new GatewayError('no_channel', { message: 'No channel could serve the request.' });
  }

  private async relayJson(ex: Exchange, attempt: UpstreamAttempt, res: Dispatcher.ResponseData, reply: FastifyReply): Promise<void> {
    let buf: Buffer;
    try {
      buf = Buffer.from(await res.body.arrayBuffer());
    } catch (e) {
      throw attempt.fail(attempt.classifyThrown(e, false));
    }
    let parsed: { model?: unknown; usage?: unknown };
    try {
      parsed = JSON.parse(buf.toString('utf8')) as typeof parsed;
    } catch (e) {
      throw attempt.fail(
        new GatewayError('upstream_error', {
          message: 'The upstream provider returned a malformed response.',
          errorClass: 'transient',
          retryable: true,
          provider: attempt.candidate.provider,
          channelId: attempt.candidate.channel_id,
          cause: e,
        }),
      );
    }
    attempt.ttftMs = performance.now() - attempt.startedAt;
    attempt.finish();
    ex.modelServed = typeof parsed.model === 'string' ? parsed.model : attempt.candidate.upstream_model;
    ex.usage = readOpenAIUsage(parsed.usage);
    if (!ex.usage) {
      ex.usage = { ...ZERO_USAGE, input_tokens: estimateTokensFromChars(promptChars(ex.view.body.messages)) };
      ex.usageEstimated = true;
    }
    // The upstream's bytes go out unchanged: parsed once for the books, never re-serialised.
    reply.status(200).header('content-type', 'application/json').send(buf);
  }

  private async relayStream(ex: Exchange, attempt: UpstreamAttempt, res: Dispatcher.ResponseData, reply: FastifyReply): Promise<void> {
    const parser = new SseParser();
    const observer = new OpenAIStreamObserver(ex.view.clientWantsUsage);
    const events: SseEvent[] = [];
    const raw = reply.raw;
    let committed = false;
    let done = false;
    attempt.armFirstToken();
    try {
      for await (const chunk of res.body) {
        parser.push(chunk as Buffer, events);
        if (events.length === 0) continue;
        if (!committed) {
          // First upstream event in hand: only now is the client's status committed.
          attempt.markFirstToken();
          reply.hijack();
          raw.writeHead(200, { ...SSE_HEADERS, 'x-request-id': ex.requestId });
          committed = true;
        }
        done = this.writeEvents(raw, events, observer) || done;
        events.length = 0;
      }
      parser.end(events);
      if (events.length > 0) {
        if (!committed) {
          attempt.markFirstToken();
          reply.hijack();
          raw.writeHead(200, { ...SSE_HEADERS, 'x-request-id': ex.requestId });
          committed = true;
        }
        done = this.writeEvents(raw, events, observer) || done;
      }
    } catch (e) {
      const err = attempt.classifyThrown(e, committed);
      this.settleStreamUsage(ex, attempt, observer, true);
      if (!committed) throw attempt.fail(err);
      attempt.fail(err);
      ex.error = err;
      ex.httpStatus = 200;
      if (!ex.clientGone) this.endStreamWithError(raw, err);
      return;
    }
    if (!committed) {
      throw attempt.fail(
        new GatewayError('upstream_error', {
          message: 'The upstream provider closed the stream without sending anything.',
          errorClass: 'transient',
          retryable: true,
          provider: attempt.candidate.provider,
          channelId: attempt.candidate.channel_id,
        }),
      );
    }
    attempt.finish();
    const complete = done || observer.finished;
    this.settleStreamUsage(ex, attempt, observer, !complete);
    if (!complete) {
      const err = new GatewayError('upstream_error', {
        message: 'The upstream stream ended before the answer was complete.',
        code: 'stream_interrupted',
        errorClass: 'mid_stream',
        provider: attempt.candidate.provider,
        channelId: attempt.candidate.channel_id,
      });
      attempt.errorClass = 'mid_stream';
      ex.error = err;
      this.endStreamWithError(raw, err);
      return;
    }
    if (!done) raw.write('data: [DONE]\n\n');
    raw.end();
  }

  /** Writes a batch of events in one socket write; returns true when [DONE] was among them. */
  private writeEvents(raw: FastifyReply['raw'], events: SseEvent[], observer: OpenAIStreamObserver): boolean {
    let out = '';
    let done = false;
    for (let i = 0; i < events.length; i++) {
      const data = events[i]!.data;
      if (data === '[DONE]') {
        done = true;
        out += 'data: [DONE]\n\n';
        continue;
      }
      if (observer.observe(data)) out += `data: ${data}\n\n`;
    }
    if (out.length > 0) raw.write(out);
    return done;
  }

  private settleStreamUsage(ex: Exchange, attempt: UpstreamAttempt, observer: OpenAIStreamObserver, interrupted: boolean): void {
    ex.modelServed = observer.model || attempt.candidate.upstream_model;
    if (observer.usage) {
      ex.usage = observer.usage;
      return;
    }
    // No usage from upstream (cut short, or a host that ignores include_usage): bill what was delivered.
    ex.usage = {
      input_tokens: estimateTokensFromChars(promptChars(ex.view.body.messages)),
      output_tokens: estimateTokensFromChars(observer.outputChars),
      cached_input_tokens: 0,
      reasoning_tokens: 0,
    };
    ex.usageEstimated = true;
    void interrupted;
  }

  /** A mid-stream failure ends the stream with an OpenAI-style error event, never a silent truncation. */
  private endStreamWithError(raw: FastifyReply['raw'], err: GatewayError): void {
    if (raw.writableEnded || raw.destroyed) return;
    raw.write(`data: ${JSON.stringify(toOpenAIError(err))}\n\n`);
    raw.end();
  }

  private sendError(reply: FastifyReply, err: GatewayError): void {
    reply.status(err.status).send(toOpenAIError(err));
  }

  private finish(ex: Exchange): void {
    const latencyMs = performance.now() - ex.startedAt;
    const winner = ex.winner;
    const usage = ex.usage ?? ZERO_USAGE;
    const candidate = winner?.candidate;
    const price = candidate?.price ?? { input_nano_per_mtok: 0, output_nano_per_mtok: 0, cached_input_nano_per_mtok: 0 };
    const ttft = winner?.ttftMs ?? null;
    const genMs = winner && ttft !== null ? winner.latencyMs - ttft : 0;
    const status = ex.clientGone ? 499 : ex.httpStatus;
    const event: UsageEventV1 = {
      schema: USAGE_SCHEMA_V1,
      request_id: ex.requestId,
      occurred_at: ex.occurredAt.toISOString(),
      trace_id: activeTraceId(trace.setSpan(ROOT_CONTEXT, ex.span)),
      key_id: ex.key.key_id,
      account_id: ex.key.account_id,
      model_requested: ex.view.model,
      model_served: ex.modelServed,
      channel_id: candidate?.channel_id ?? '',
      provider: candidate?.provider ?? '',
      route_mode: ROUTE_MODE,
      stream: ex.view.stream,
      status: ex.error || ex.clientGone ? 'error' : 'ok',
      http_status: status,
      error_class: ex.clientGone ? 'client_abort' : (ex.error?.errorClass ?? (ex.error ? 'unknown' : null)),
      attempts: ex.attempts.map((a) => ({
        channel_id: a.candidate.channel_id,
        provider: a.candidate.provider,
        status: a.status,
        error_class: a.errorClass,
        started_after_ms: round2(a.startedAfterMs),
        latency_ms: round2(a.latencyMs),
        ttft_ms: a.ttftMs === null ? null : round2(a.ttftMs),
      })),
      usage,
      usage_estimated: ex.usageEstimated,
      ttft_ms: ttft === null ? null : round2(ttft),
      latency_ms: round2(latencyMs),
      tokens_per_second: genMs > 0 && usage.output_tokens > 0 ? round2((usage.output_tokens * 1000) / genMs) : null,
      price,
      cost_nano: winner || ex.usage ? costNano(usage, price) : 0,
    };
    ex.span.setAttributes({
      'switchyard.channel_id': event.channel_id,
      'switchyard.attempts': event.attempts.length,
      'http.response.status_code': status,
      'gen_ai.usage.input_tokens': usage.input_tokens,
      'gen_ai.usage.output_tokens': usage.output_tokens,
    });
    if (ex.error) ex.span.setStatus({ code: SpanStatusCode.ERROR, message: ex.error.kind });
    ex.span.end();
    try {
      this.deps.usage.publish(event, trace.setSpan(ROOT_CONTEXT, ex.span));
    } catch (e) {
      this.deps.log.error({ request_id: ex.requestId, err: (e as Error).message }, 'usage event not published');
    }
  }
}

function endAttemptSpan(span: Span, attempt: UpstreamAttempt, err: GatewayError | null): void {
  span.setAttributes({ 'http.response.status_code': attempt.status });
  if (attempt.ttftMs !== null) span.setAttribute('switchyard.ttft_ms', attempt.ttftMs);
  if (err) {
    span.setAttribute('switchyard.error_class', err.errorClass ?? 'unknown');
    span.setStatus({ code: SpanStatusCode.ERROR, message: err.kind });
  }
  span.end();
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
