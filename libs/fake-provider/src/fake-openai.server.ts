/**
 * A fake OpenAI-compatible upstream over plain node:http. It is the baseline
 * in overhead benchmarks, so the per-request path does little more than parse
 * the body, count words and write precomputed strings.
 */
import type { FakeOAuthIssuer } from './fake-oauth.issuer';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { parseBehaviorHeader, resolveBehavior, seededRandom, validateBehavior, type FakeBehavior, type ResolvedBehavior, drawLatency } from './script';
import { countPromptTokens, TOOL_CALL_TOKENS } from './tokens';
import { completionJson, DONE_EVENT, modelJson, modelListJson, streamEvents, usageJson, type StreamEvents } from './openai.wire';
import { DEFAULT_EMBEDDING_DIMENSIONS, embeddingsJson, readInputs, textCompletionEvents, textCompletionJson, type TextOrTokens } from './openai-legacy.wire';
import {
  badScript,
  invalidApiKey,
  invalidJson,
  invalidUrl,
  missingParameter,
  openAIErrorFor,
  type OpenAIErrorBody,
} from './openai.errors';

export interface RecordedRequest {
  method: string;
  /** Path without the query string, e.g. `/v1/chat/completions`. */
  path: string;
  /** Request headers, without `authorization` and `api-key`. */
  headers: Record<string, string | string[] | undefined>;
  /** Whether an `Authorization` (or `api-key`) header was sent. */
  hasAuth: boolean;
  /** Last 4 characters of the key sent, or null. */
  keyLast4: string | null;
  /** Parsed JSON body; undefined when absent or malformed. */
  body: unknown;
  /** Epoch ms when the request was received. */
  receivedAt: number;
  /** HTTP status sent, null until headers are sent (or never, for `hang`/breaks before headers). */
  status: number | null;
  /** Content chunks written (streams), or the chunk count of a non-stream completion. */
  chunksSent: number;
  /** The client closed the connection before the response was finished. */
  aborted: boolean;
  /** The server broke the connection on purpose (`breakAfterChunks`). */
  broken: boolean;
  /** The response was written completely. */
  completed: boolean;
  /** The query string without `?` ('' when none), e.g. `api-version=2024-10-21` on Azure paths. */
  query?: string;
}

export interface FakeProviderStats {
  received: number;
  completed: number;
  aborted: number;
  /** Connections destroyed on purpose by `breakAfterChunks`. */
  broken: number;
  /** Requests being handled right now (not reset by `reset()`). */
  inFlight: number;
}

export interface FakeProvider {
  /**
   * The base URL this provider's SDK takes: OpenAI `http://127.0.0.1:PORT/v1`;
   * Anthropic and Gemini the origin `http://127.0.0.1:PORT` (their SDKs add /v1 or /v1beta).
   */
  url: string;
  port: number;
  /** Default behaviour for the following requests (replaces the previous one). Throws TypeError when invalid. */
  setBehavior(b: FakeBehavior): void;
  /** Recorded requests in arrival order (empty when `recordRequests: false`). */
  readonly requests: RecordedRequest[];
  stats(): FakeProviderStats;
  /** Clears recorded requests and counters and restores the behaviour given at start. */
  reset(): void;
  /** Closes the server and every connection, idle or active. Idempotent. */
  close(): Promise<void>;
}

export interface FakeOpenAIOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  behavior?: FakeBehavior;
  /**
   * When set, `Authorization: Bearer <key>` must match, else 401
   * invalid_api_key. On the Azure OpenAI paths
   * (`/openai/deployments/{deployment}/…?api-version=…`, always served) the
   * key goes in the `api-key` header instead, as Azure expects.
   */
  requireApiKey?: string;
  /** Keep a RecordedRequest per request (default true); false keeps only counters. */
  recordRequests?: boolean;
  /** Seed for the `failRate` draws (default: Math.random). */
  seed?: number;
  /** Served by GET /v1/models. */
  models?: readonly string[];
  /** Clock in epoch ms (default Date.now), for `created` and `receivedAt`. */
  now?: () => number;
  /**
   * OAuth mode: serve `POST /oauth/token` (refresh-token grant, see
   * FakeOAuthIssuer) and accept only `Authorization: Bearer <access token>`
   * with a token it issued that has not expired (401 otherwise).
   */
  oauth?: FakeOAuthIssuer;
  /**
   * Serve the control endpoints under /_fake/ (default true): GET /_fake/stats,
   * GET|PUT /_fake/behavior, POST /_fake/reset — for a fake running in its
   * own process (local stack, benchmarks).
   */
  control?: boolean;
}

export const DEFAULT_MODELS: readonly string[] = ['gpt-4o-mini', 'gpt-4o', 'gpt-4.1-mini', 'gpt-4.1'];

const BEHAVIOR_HEADER = 'x-fake-behavior';
/** Azure OpenAI's deployment-scoped endpoints. */
const AZURE_PATH = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|completions|embeddings)$/;
/** Models' `created` in GET /v1/models (a fixed date keeps responses stable). */
const MODELS_CREATED = 1_715_367_049;

interface ChatBody {
  model?: unknown;
  messages?: unknown;
  stream?: unknown;
  stream_options?: { include_usage?: unknown } | null;
}

/** Per-request state. A class so every exchange has the same hidden shape. */
class Exchange {
  timer: NodeJS.Timeout | null = null;
  closed = false;
  broken = false;
  record: RecordedRequest | null = null;
  constructor(
    readonly res: ServerResponse,
    readonly generation: number,
  ) {}
}

export function startFakeOpenAI(opts: FakeOpenAIOptions = {}): Promise<FakeProvider> {
  const server = new FakeOpenAIServer(opts);
  return server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1');
}

class FakeOpenAIServer implements FakeProvider {
  url = '';
  port = 0;
  readonly requests: RecordedRequest[] = [];

  private readonly server: Server;
  private readonly initial: FakeBehavior;
  private behavior: FakeBehavior;
  private resolved: ResolvedBehavior;
  private readonly record: boolean;
  private readonly control: boolean;
  private readonly expectedAuth: string | null;
  private readonly azureKey: string | null;
  private readonly oauth: FakeOAuthIssuer | null;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly models: readonly string[];
  private readonly idPrefix = randomBytes(6).toString('hex');
  private nextId = 0;
  private generation = 0;
  private received = 0;
  private completed = 0;
  private aborted = 0;
  private brokenCount = 0;
  private inFlight = 0;
  private lastModel = '';
  private lastModelJson = '""';
  private closing: Promise<void> | null = null;
  private idleWaiters: (() => void)[] = [];

  constructor(opts: FakeOpenAIOptions) {
    this.initial = validateBehavior(opts.behavior ?? {});
    this.behavior = this.initial;
    this.resolved = resolveBehavior(this.initial);
    this.record = opts.recordRequests ?? true;
    this.control = opts.control ?? true;
    this.expectedAuth = opts.requireApiKey === undefined ? null : `Bearer ${opts.requireApiKey}`;
    this.azureKey = opts.requireApiKey ?? null;
    this.oauth = opts.oauth ?? null;
    this.random = opts.seed === undefined ? Math.random : seededRandom(opts.seed);
    this.now = opts.now ?? Date.now;
    this.models = opts.models ?? DEFAULT_MODELS;
    this.server = createServer(this.onRequest);
    this.server.keepAliveTimeout = 65_000;
    this.server.headersTimeout = 66_000;
  }

  listen(port: number, host: string): Promise<FakeProvider> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const address = this.server.address() as AddressInfo;
        this.port = address.port;
        const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
        this.url = `http://${shown}:${this.port}/v1`;
        resolve(this);
      });
    });
  }

  setBehavior(b: FakeBehavior): void {
    const valid = validateBehavior(b);
    this.behavior = valid;
    this.resolved = resolveBehavior(valid);
  }

  stats(): FakeProviderStats {
    return { received: this.received, completed: this.completed, aborted: this.aborted, broken: this.brokenCount, inFlight: this.inFlight };
  }

  reset(): void {
    this.requests.length = 0;
    this.received = this.completed = this.aborted = this.brokenCount = 0;
    this.generation++;
    this.behavior = this.initial;
    this.resolved = resolveBehavior(this.initial);
  }

  close(): Promise<void> {
    if (!this.closing) {
      this.closing = new Promise<void>((resolve, reject) => {
        // Resolve once every exchange has seen its connection close, so stats are final.
        this.server.close((err) => (err ? reject(err) : this.whenIdle(resolve)));
        this.server.closeAllConnections();
      });
    }
    return this.closing;
  }

  private whenIdle(cb: () => void): void {
    if (this.inFlight === 0) cb();
    else this.idleWaiters.push(cb);
  }

  // --- request path ---------------------------------------------------------

  private readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (this.control && path.startsWith('/_fake/')) {
      this.onControl(req, res, path);
      return;
    }

    this.received++;
    this.inFlight++;
    const ex = new Exchange(res, this.generation);
    res.on('close', () => this.onClose(ex));

    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (ex.closed) return;
      const raw = chunks.length === 0 ? null : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      this.dispatch(ex, req, path, raw, q === -1 ? '' : url.slice(q + 1));
    });
  };

  private onClose(ex: Exchange): void {
    ex.closed = true;
    if (ex.timer !== null) {
      clearTimeout(ex.timer);
      ex.timer = null;
    }
    this.inFlight--;
    const current = ex.generation === this.generation;
    const rec = ex.record;
    if (ex.res.writableFinished) {
      if (current) this.completed++;
      if (rec) rec.completed = true;
    } else if (ex.broken) {
      if (current) this.brokenCount++;
      if (rec) rec.broken = true;
    } else {
      if (current) this.aborted++;
      if (rec) rec.aborted = true;
    }
    if (this.inFlight === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private dispatch(ex: Exchange, req: IncomingMessage, path: string, raw: Buffer | null, query = ''): void {
    const method = req.method ?? 'GET';
    if (this.oauth && path === '/oauth/token' && method === 'POST') {
      const r = this.oauth.handle({ authorization: req.headers.authorization, 'content-type': req.headers['content-type'] }, raw?.toString('utf8') ?? '');
      this.send(ex, r.status, JSON.stringify(r.body), { 'content-type': 'application/json', 'cache-control': 'no-store' });
      return;
    }
    let body: unknown;
    let malformed = false;
    if (raw !== null && raw.length > 0) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        malformed = true;
      }
    }
    if (this.record && ex.generation === this.generation) {
      ex.record = recordOf(req, method, path, body, this.now());
      if (query !== '') ex.record.query = query;
      this.requests.push(ex.record);
    }

    const azure = AZURE_PATH.exec(path);
    if (azure && method === 'POST') {
      this.azure(ex, req, safeDecode(azure[1]!), azure[2]!, body, malformed, query);
      return;
    }
    if (this.oauth) {
      if (!this.bearerValid(req)) {
        this.sendError(ex, 401, invalidApiKey());
        return;
      }
    } else if (this.expectedAuth !== null && req.headers.authorization !== this.expectedAuth) {
      this.sendError(ex, 401, invalidApiKey());
      return;
    }
    if (path === '/v1/chat/completions' && method === 'POST') {
      if (malformed) this.sendError(ex, 400, invalidJson());
      else this.chat(ex, req, body);
    } else if ((path === '/v1/embeddings' || path === '/v1/completions') && method === 'POST') {
      if (malformed) this.sendError(ex, 400, invalidJson());
      else this.legacy(ex, req, body, path === '/v1/embeddings' ? 'embeddings' : 'completions');
    } else if (path === '/v1/models' && method === 'GET') {
      this.sendJson(ex, 200, modelListJson(this.models, MODELS_CREATED));
    } else if (path.startsWith('/v1/models/') && method === 'GET') {
      const id = safeDecode(path.slice('/v1/models/'.length));
      if (this.models.includes(id)) this.sendJson(ex, 200, modelJson(id, MODELS_CREATED));
      else this.sendError(ex, 404, openAIErrorFor(404, { model: id }));
    } else {
      this.sendError(ex, 404, invalidUrl(method, path));
    }
  }

  private bearerValid(req: IncomingMessage): boolean {
    const h = req.headers.authorization;
    return typeof h === 'string' && h.startsWith('Bearer ') && this.oauth!.isValid(h.slice(7));
  }

  /**
   * Azure OpenAI: `/openai/deployments/{deployment}/{chat/completions|completions|embeddings}?api-version=…`,
   * authenticated by `api-key` (or an Entra/OAuth Bearer token in OAuth mode);
   * the deployment stands in for a missing `model`. Errors in Azure's shapes.
   */
  private azure(ex: Exchange, req: IncomingMessage, deployment: string, op: string, body: unknown, malformed: boolean, query: string): void {
    const sendAzure = (status: number, code: string, message: string) => this.send(ex, status, JSON.stringify({ error: { code, message } }), { 'content-type': 'application/json' });
    if (this.oauth) {
      if (!this.bearerValid(req)) {
        sendAzure(401, '401', 'Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or have expired.');
        return;
      }
    } else if (this.azureKey !== null && req.headers['api-key'] !== this.azureKey) {
      sendAzure(401, '401', 'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.');
      return;
    }
    if (!new URLSearchParams(query).get('api-version')) {
      sendAzure(404, '404', 'Resource not found');
      return;
    }
    if (malformed) {
      this.sendError(ex, 400, invalidJson());
      return;
    }
    const withModel = typeof body === 'object' && body !== null && !Array.isArray(body) ? { model: deployment, ...(body as Record<string, unknown>) } : body;
    if (op === 'chat/completions') this.chat(ex, req, withModel);
    else this.legacy(ex, req, withModel, op === 'embeddings' ? 'embeddings' : 'completions');
  }

  private chat(ex: Exchange, req: IncomingMessage, parsed: unknown): void {
    let b = this.resolved;
    const header = req.headers[BEHAVIOR_HEADER];
    if (typeof header === 'string') {
      try {
        b = resolveBehavior({ ...this.behavior, ...parseBehaviorHeader(header) });
      } catch (err) {
        this.sendError(ex, 400, badScript((err as Error).message));
        return;
      }
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      this.sendError(ex, 400, invalidJson());
      return;
    }
    const body = parsed as ChatBody;
    if (typeof body.model !== 'string') {
      this.sendError(ex, 400, missingParameter('model'));
      return;
    }
    if (!Array.isArray(body.messages)) {
      this.sendError(ex, 400, missingParameter('messages'));
      return;
    }
    if (b.hang) return; // answer nothing; the close handler records the client's abort

    const model = b.model ?? body.model;
    const fails = b.failRate !== undefined ? this.random() < b.failRate : b.failStatus !== undefined;
    const respond = fails
      ? () => this.fail(ex, b, model)
      : body.stream === true
        ? () => this.stream(ex, b, body, model)
        : () => this.complete(ex, b, body, model);
    const latency = drawLatency(b, this.random);
    if (latency > 0) {
      ex.timer = setTimeout(() => {
        ex.timer = null;
        if (!ex.closed) respond();
      }, latency);
    } else {
      respond();
    }
  }

  /**
   * POST /v1/embeddings and POST /v1/completions (legacy): the same scripted
   * latency, failures and hangs as chat; answers from openai-legacy.wire.
   */
  private legacy(ex: Exchange, req: IncomingMessage, parsed: unknown, kind: 'embeddings' | 'completions'): void {
    let b = this.resolved;
    const header = req.headers[BEHAVIOR_HEADER];
    if (typeof header === 'string') {
      try {
        b = resolveBehavior({ ...this.behavior, ...parseBehaviorHeader(header) });
      } catch (err) {
        this.sendError(ex, 400, badScript((err as Error).message));
        return;
      }
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      this.sendError(ex, 400, invalidJson());
      return;
    }
    const body = parsed as Record<string, unknown>;
    if (typeof body.model !== 'string') {
      this.sendError(ex, 400, missingParameter('model'));
      return;
    }
    const field = kind === 'embeddings' ? 'input' : 'prompt';
    const inputs = readInputs(body[field]);
    if (!inputs) {
      this.sendError(ex, 400, missingParameter(field));
      return;
    }
    const dims = body.dimensions;
    if (kind === 'embeddings' && dims !== undefined && !(typeof dims === 'number' && Number.isInteger(dims) && dims > 0 && dims <= 4096)) {
      this.sendError(ex, 400, { error: { message: "Invalid 'dimensions': expected an integer from 1 to 4096.", type: 'invalid_request_error', param: 'dimensions', code: 'invalid_value' } });
      return;
    }
    if (b.hang) return;
    const model = b.model ?? body.model;
    const fails = b.failRate !== undefined ? this.random() < b.failRate : b.failStatus !== undefined;
    const respond = fails
      ? () => this.fail(ex, b, model)
      : kind === 'embeddings'
        ? () => this.sendJson(ex, 200, embeddingsJson(model, inputs, (dims as number | undefined) ?? DEFAULT_EMBEDDING_DIMENSIONS, body.encoding_format === 'base64'))
        : body.stream === true
          ? () => this.streamText(ex, b, body, inputs, model)
          : () => this.sendJson(ex, 200, textCompletionJson('cmpl-' + this.nextSeq(), this.created(), model, inputs, b));
    const latency = drawLatency(b, this.random);
    if (latency > 0) {
      ex.timer = setTimeout(() => {
        ex.timer = null;
        if (!ex.closed) respond();
      }, latency);
    } else {
      respond();
    }
  }

  /** A streamed legacy completion: one event per write, `chunkDelayMs` apart. */
  private streamText(ex: Exchange, b: ResolvedBehavior, body: Record<string, unknown>, prompts: TextOrTokens[], model: string): void {
    const so = body.stream_options as { include_usage?: unknown } | null | undefined;
    const seq = this.nextSeq();
    const events = textCompletionEvents('cmpl-' + seq, this.created(), model, prompts, b, so != null && so.include_usage === true);
    ex.res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-request-id': 'req_' + seq });
    if (ex.record) ex.record.status = 200;
    ex.res.flushHeaders();
    let i = 0;
    const next = (): void => {
      ex.timer = null;
      if (ex.closed) return;
      if (b.breakAfterChunks !== undefined && i >= b.breakAfterChunks) {
        this.breakNow(ex);
        return;
      }
      if (ex.record) ex.record.chunksSent = i;
      const e = events[i++]!;
      if (i === events.length) ex.res.end(e);
      else {
        ex.res.write(e);
        if (b.chunkDelayMs > 0) ex.timer = setTimeout(next, b.chunkDelayMs);
        else next();
      }
    };
    if (b.ttftMs > 0) ex.timer = setTimeout(next, b.ttftMs);
    else next();
  }

  private complete(ex: Exchange, b: ResolvedBehavior, body: ChatBody, model: string): void {
    if (b.breakAfterChunks !== undefined) {
      this.breakNow(ex);
      return;
    }
    const seq = this.nextSeq();
    const payload = completionJson('chatcmpl-' + seq, this.created(), this.modelJson(model), b, this.usage(b, body));
    if (ex.record) ex.record.chunksSent = b.chunks;
    this.sendJson(ex, 200, payload, seq);
  }

  private stream(ex: Exchange, b: ResolvedBehavior, body: ChatBody, model: string): void {
    const res = ex.res;
    const seq = this.nextSeq();
    const includeUsage = body.stream_options != null && body.stream_options.include_usage === true;
    const ev = streamEvents('chatcmpl-' + seq, this.created(), this.modelJson(model), b, includeUsage ? this.usage(b, body) : null);
    const n = b.chunks;
    const breakAt = b.breakAfterChunks === undefined ? -1 : Math.min(b.breakAfterChunks, n);
    const errorAt = b.errorAfterChunks === undefined ? -1 : Math.min(b.errorAfterChunks, n);
    const rec = ex.record;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-request-id': 'req_' + seq,
    });
    if (rec) rec.status = 200;

    if (b.chunkDelayMs === 0) {
      // No pauses between events: one write, still a valid event stream.
      const emitAll = (): void => {
        ex.timer = null;
        if (ex.closed) return;
        if (breakAt >= 0) {
          if (rec) rec.chunksSent = breakAt;
          this.writeThenBreak(ex, ev.role + ev.content.repeat(breakAt));
        } else if (b.breakInToolCall && ev.toolsHead !== '') {
          if (rec) rec.chunksSent = n;
          this.writeThenBreak(ex, ev.role + ev.content.repeat(n) + ev.toolsHead);
        } else if (errorAt >= 0) {
          if (rec) rec.chunksSent = errorAt;
          res.end(ev.role + ev.content.repeat(errorAt) + ev.error);
        } else {
          if (rec) rec.chunksSent = n;
          res.end(ev.role + ev.content.repeat(n) + ev.tools + ev.finish + ev.usage + DONE_EVENT);
        }
      };
      if (b.ttftMs > 0) {
        res.flushHeaders();
        ex.timer = setTimeout(emitAll, b.ttftMs);
      } else {
        emitAll();
      }
      return;
    }

    // Paced: every event is its own write.
    res.flushHeaders();
    let sent = 0;
    const next = (): void => {
      ex.timer = null;
      if (ex.closed) return;
      sent++;
      if (rec) rec.chunksSent = sent;
      if (sent === breakAt) {
        this.writeThenBreak(ex, ev.content);
        return;
      }
      if (sent === errorAt) {
        res.end(ev.content + ev.error);
        return;
      }
      res.write(ev.content);
      if (sent === n && b.breakInToolCall && ev.toolsHead !== '') this.writeThenBreak(ex, ev.toolsHead);
      else if (sent === n) endPaced(res, ev);
      else ex.timer = setTimeout(next, b.chunkDelayMs);
    };
    const first = (): void => {
      ex.timer = null;
      if (ex.closed) return;
      if (breakAt === 0) {
        this.writeThenBreak(ex, ev.role);
        return;
      }
      if (errorAt === 0) {
        res.end(ev.role + ev.error);
        return;
      }
      res.write(ev.role);
      if (n === 0) endPaced(res, ev);
      else next();
    };
    if (b.ttftMs > 0) ex.timer = setTimeout(first, b.ttftMs);
    else first();
  }

  private fail(ex: Exchange, b: ResolvedBehavior, model: string): void {
    const status = b.failStatus ?? 500;
    const headers: Record<string, string> = {};
    if (b.retryAfterSeconds !== undefined) headers['retry-after'] = String(b.retryAfterSeconds);
    if (typeof b.failBody === 'string') {
      headers['content-type'] = 'text/plain; charset=utf-8';
      this.send(ex, status, b.failBody, headers);
      return;
    }
    const errorBody = b.failBody !== undefined ? b.failBody : openAIErrorFor(status, { model, retryAfterSeconds: b.retryAfterSeconds });
    headers['content-type'] = 'application/json';
    this.send(ex, status, JSON.stringify(errorBody), headers);
  }

  // --- writing --------------------------------------------------------------

  private sendJson(ex: Exchange, status: number, payload: string, seq?: string): void {
    this.send(ex, status, payload, { 'content-type': 'application/json' }, seq);
  }

  private sendError(ex: Exchange, status: number, error: OpenAIErrorBody): void {
    this.send(ex, status, JSON.stringify(error), { 'content-type': 'application/json' });
  }

  private send(ex: Exchange, status: number, payload: string, headers: Record<string, string>, seq?: string): void {
    if (ex.closed) return;
    headers['content-length'] = String(Buffer.byteLength(payload));
    headers['x-request-id'] = 'req_' + (seq ?? this.nextSeq());
    ex.res.writeHead(status, headers);
    ex.res.end(payload);
    if (ex.record) ex.record.status = status;
  }

  /** Writes `data`, then destroys the socket once it reached the kernel: a mid-stream break. */
  private writeThenBreak(ex: Exchange, data: string): void {
    ex.broken = true;
    if (data.length === 0) ex.res.destroy();
    else ex.res.write(data, () => ex.res.destroy());
  }

  private breakNow(ex: Exchange): void {
    ex.broken = true;
    ex.res.destroy();
  }

  // --- helpers --------------------------------------------------------------

  private usage(b: ResolvedBehavior, body: ChatBody): string {
    const counted = countPromptTokens(body.messages);
    return usageJson({
      promptTokens: counted > b.cachedTokens ? counted : b.cachedTokens,
      completionTokens: b.chunks + b.reasoningTokens + b.toolCalls.length * TOOL_CALL_TOKENS,
      cachedTokens: b.cachedTokens,
      reasoningTokens: b.reasoningTokens,
    });
  }

  /** Unique per response: `chatcmpl-<seq>` is the completion id, `req_<seq>` the x-request-id. */
  private nextSeq(): string {
    return this.idPrefix + (this.nextId++).toString(36);
  }

  private created(): number {
    return Math.floor(this.now() / 1000);
  }

  private modelJson(model: string): string {
    if (model !== this.lastModel) {
      this.lastModel = model;
      this.lastModelJson = JSON.stringify(model);
    }
    return this.lastModelJson;
  }

  // --- control endpoints (/_fake/*) -----------------------------------------

  private onControl(req: IncomingMessage, res: ServerResponse, path: string): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const method = req.method ?? 'GET';
      const reply = (status: number, payload: unknown): void => {
        const text = payload === undefined ? '' : JSON.stringify(payload);
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
        res.end(text);
      };
      if (path === '/_fake/stats' && method === 'GET') {
        reply(200, this.stats());
      } else if (path === '/_fake/behavior' && method === 'GET') {
        reply(200, this.behavior);
      } else if (path === '/_fake/behavior' && (method === 'PUT' || method === 'POST')) {
        try {
          this.setBehavior(JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as FakeBehavior);
          reply(200, this.behavior);
        } catch (err) {
          reply(400, badScript((err as Error).message));
        }
      } else if (path === '/_fake/reset' && method === 'POST') {
        this.reset();
        reply(200, this.stats());
      } else {
        reply(404, invalidUrl(method, path));
      }
    });
  }
}

/** The closing events of a paced stream, one write each. */
function endPaced(res: ServerResponse, ev: StreamEvents): void {
  if (ev.tools.length > 0) res.write(ev.tools);
  res.write(ev.finish);
  if (ev.usage.length > 0) res.write(ev.usage);
  res.end(DONE_EVENT);
}

function recordOf(req: IncomingMessage, method: string, path: string, body: unknown, receivedAt: number): RecordedRequest {
  const headers: Record<string, string | string[] | undefined> = {};
  const source: IncomingHttpHeaders = req.headers;
  let key: string | null = null;
  for (const name of Object.keys(source)) {
    if (name === 'authorization' || name === 'api-key') {
      const value = source[name];
      if (typeof value === 'string') key = value.startsWith('Bearer ') ? value.slice(7) : value;
      continue;
    }
    headers[name] = source[name];
  }
  return {
    method,
    path,
    headers,
    hasAuth: key !== null,
    keyLast4: key === null || key.length === 0 ? null : key.slice(-4),
    body,
    receivedAt,
    status: null,
    chunksSent: 0,
    aborted: false,
    broken: false,
    completed: false,
  };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
