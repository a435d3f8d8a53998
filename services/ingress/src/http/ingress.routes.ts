import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '@switchyard/telemetry';
import type { ChatCompletionsHandler } from '../chat/chat-completions.handler';
import { GatewayError } from '../errors/gateway-error';
import { asGatewayError } from '../errors/openai-error';
import { renderClientError } from '../protocol/client-errors';
import type { Protocol } from '@switchyard/providers';
import type { KeyCache } from '../auth/key-cache';
import { authenticate } from '../auth/authenticate';
import type { PlanStore } from '../plan/plan.store';
import type { ChannelHealthBook } from '../routing/channel-health.book';
import type { IngressMetrics } from '../metrics/ingress.metrics';
import { httpMetricsHooks, renderMetrics } from '@switchyard/metrics';
import type { EmbeddingsHandler } from '../embeddings/embeddings.handler';
import type { CompletionsHandler } from '../completions/completions.handler';
import type { ModelListsHandler } from '../models/model-lists';

export interface IngressRouteDeps {
  chat: ChatCompletionsHandler;
  embeddings: EmbeddingsHandler;
  completions: CompletionsHandler;
  modelLists: ModelListsHandler;
  keys: KeyCache;
  plans: PlanStore;
  nc: NatsConnection;
  health: ChannelHealthBook;
  metrics: IngressMetrics;
  log: Logger;
}

/**
 * The data-plane routes, registered on Fastify directly: the request path
 * skips Nest's per-request pipeline (guards, interceptors, pipes), which would
 * cost more than the whole overhead budget. Nest still builds and wires
 * everything these routes use.
 */
export function registerIngressRoutes(app: FastifyInstance, deps: IngressRouteDeps): void {
  app.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id);
    done();
  });
  const hooks = httpMetricsHooks(deps.metrics.http);
  app.addHook('onRequest', hooks.onRequest);
  app.addHook('onResponse', hooks.onResponse);

  /** Prometheus scrape endpoint. */
  app.get('/metrics', async (_req, reply) => {
    const m = await renderMetrics(deps.metrics.registry);
    return reply.header('content-type', m.contentType).send(m.body);
  });

  app.setErrorHandler((error: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const err = fromFastifyError(error);
    if (err.kind === 'internal') deps.log.error({ request_id: req.id, err: error.message }, 'unhandled error');
    if (err.headers) void reply.headers(err.headers);
    const rendered = renderClientError(protocolOf(req), err);
    void reply.status(rendered.status).send(rendered.body);
  });

  app.post('/v1/chat/completions', (req, reply) => deps.chat.handle(req, reply));
  app.post('/v1/embeddings', (req, reply) => deps.embeddings.handle(req, reply));
  app.post('/v1/completions', (req, reply) => deps.completions.handle(req, reply));

  // Anthropic Messages: any channel, translated when it speaks another protocol.
  app.post('/v1/messages', (req, reply) => deps.chat.handle(req, reply, 'anthropic'));

  // OpenAI Responses: any channel, always through the canonical form. Switchyard stores no responses.
  app.post('/v1/responses', (req, reply) => deps.chat.handle(req, reply, 'openai-responses'));
  const notStored = (req: FastifyRequest) => {
    throw new GatewayError('not_found', {
      message: `Response '${(req.params as { id: string }).id}' cannot be retrieved: Switchyard stores no responses (store is not honoured).`,
      code: 'response_not_stored',
    });
  };
  app.get('/v1/responses/:id', notStored);
  app.delete('/v1/responses/:id', notStored);

  // Gemini: the model and the streaming choice are in the path (`model:generateContent`).
  app.post('/v1beta/models/:modelAction', (req, reply) => {
    const action = (req.params as { modelAction: string }).modelAction;
    const m = /^(.+):(generateContent|streamGenerateContent)$/.exec(action);
    if (!m) throw new GatewayError('not_found', { message: `Unknown method '${action}': use <model>:generateContent or <model>:streamGenerateContent.`, code: 'unknown_url' });
    return deps.chat.handle(req, reply, 'gemini', { model: m[1], stream: m[2] === 'streamGenerateContent' });
  });

  // Gemini model list and model, in Gemini's shape.
  app.get('/v1beta/models', (req, reply) => deps.modelLists.geminiList(req, reply));
  app.get('/v1beta/models/:model', (req, reply) => deps.modelLists.geminiGet(req, reply, (req.params as { model: string }).model));

  app.get('/v1/models', async (req, reply) => {
    // The Anthropic SDK sends `anthropic-version`: answer in its list shape.
    if (isAnthropic(req)) return deps.modelLists.anthropicList(req, reply);
    const key = await authenticate(deps.keys, req);
    const plan = deps.plans.current;
    const ids = plan ? plan.modelIds.filter((id) => key.allowsModel(id)) : [];
    return reply.send({
      object: 'list',
      data: ids.map((id) => ({ id, object: 'model', created: plan!.createdSec, owned_by: 'switchyard' })),
    });
  });

  app.get('/v1/models/:model', async (req, reply) => {
    const id = (req.params as { model: string }).model;
    if (isAnthropic(req)) return deps.modelLists.anthropicGet(req, reply, id);
    const key = await authenticate(deps.keys, req);
    const plan = deps.plans.current;
    if (!plan || !plan.models.has(id) || !key.allowsModel(id)) {
      throw new GatewayError('model_not_found', { message: `The model '${id}' does not exist.`, param: 'model' });
    }
    return reply.send({ id, object: 'model', created: plan.createdSec, owned_by: 'switchyard' });
  });

  /**
   * Operator view of this replica's routing state: per (channel, model) the
   * live stats (requests, success rate, EMA and p95 latency/TTFT, tokens/s),
   * breaker and cooldown. Needs an API key like any other call.
   */
  app.get('/v1/switchyard/channels', async (req, reply) => {
    await authenticate(deps.keys, req);
    return reply.send({ object: 'list', data: deps.health.snapshot() });
  });

  app.get('/healthz', (_req, reply) => reply.send({ status: 'ok' }));

  app.get('/readyz', (_req, reply) => {
    const plan = deps.plans.current;
    const natsUp = !deps.nc.isClosed();
    const ready = natsUp && plan !== undefined;
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', nats: natsUp, plan_version: plan?.version ?? null });
  });
}

function fromFastifyError(error: FastifyError): GatewayError {
  if (error instanceof GatewayError) return error;
  const e = asGatewayError(error);
  if (e !== (error as unknown)) {
    switch (error.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return new GatewayError('payload_too_large', { message: 'The request body is larger than this gateway accepts.', cause: error });
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return new GatewayError('invalid_request', { message: 'Send the body as application/json.', status: 415, code: 'unsupported_media_type', cause: error });
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return new GatewayError('invalid_request', { message: 'The request body is empty; send a JSON object.', code: 'invalid_json', cause: error });
      default:
        if (error.statusCode === 400 || error instanceof SyntaxError) {
          return new GatewayError('invalid_request', {
            message: 'We could not parse the JSON body of your request. Check that it is valid JSON.',
            code: 'invalid_json',
            cause: error,
          });
        }
        if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
          return new GatewayError('invalid_request', { message: error.message, status: error.statusCode, cause: error });
        }
    }
  }
  return e;
}

function isAnthropic(req: FastifyRequest): boolean {
  return typeof req.headers['anthropic-version'] === 'string';
}

/** Which protocol's error shape a request answers in: by path, and `anthropic-version` for the shared model list. */
function protocolOf(req: FastifyRequest): Protocol {
  const p = protocolOfUrl(req.url);
  return p === 'openai' && req.url.startsWith('/v1/models') && isAnthropic(req) ? 'anthropic' : p;
}

/** Which protocol's error shape a path answers in. */
export function protocolOfUrl(url: string): Protocol {
  if (url.startsWith('/v1/messages')) return 'anthropic';
  if (url.startsWith('/v1beta/')) return 'gemini';
  return 'openai';
}
