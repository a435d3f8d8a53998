/**
 * The machinery shared by the Anthropic and Gemini fakes: one node:http
 * server with the same scripting, recording, counters and control endpoints
 * as the OpenAI fake, speaking whichever wire format its `Dialect` writes.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { parseBehaviorHeader, resolveBehavior, seededRandom, validateBehavior, type FakeBehavior, type ResolvedBehavior, drawLatency } from './script';
import type { FakeProvider, FakeProviderStats, RecordedRequest } from './fake-openai.server';

/** A reply the dialect decided on before generating anything (errors, model lists). */
export interface Reply {
  status: number;
  body: unknown;
}

export type Route =
  | { kind: 'generate'; /** Gemini `streamGenerateContent` without `alt=sse`: a JSON array. */ jsonArray: boolean; model: string | null }
  | { kind: 'reply'; reply: Reply };

export interface GenerateContext {
  /** Unique per response. */
  seq: string;
  model: string;
  b: ResolvedBehavior;
  promptTokens: number;
}

/** One stream event: an SSE `event:` name (Anthropic) and its JSON payload. */
export interface WireEvent {
  event?: string;
  json: string;
  /** Written as a bare JSON chunk of its own, not an SSE event (Gemini's mid-stream error). */
  raw?: boolean;
}

/** A stream as events: `head` once, `content` repeated `chunks` times, then `tail`. */
export interface StreamPlan {
  head: WireEvent[];
  content: WireEvent;
  tail: WireEvent[];
  /** The protocol's mid-stream error event (for `errorAfterChunks`). */
  error: WireEvent;
}

export interface Dialect {
  /** Where the key comes from: these headers (a `Bearer ` prefix is dropped), else this query parameter. */
  readonly auth: { headers: readonly string[]; queryKey: string | null };
  route(method: string, path: string, query: URLSearchParams, models: readonly string[]): Route;
  /** Checks headers and body; returns the prompt token count, model and stream flag, or an error reply. */
  check(req: IncomingMessage, body: unknown, route: Extract<Route, { kind: 'generate' }>, path: string): Reply | { promptTokens: number; model: string; stream: boolean };
  complete(ctx: GenerateContext): string;
  stream(ctx: GenerateContext): StreamPlan;
  errorFor(status: number, ctx: { model: string; retryAfterSeconds?: number }): unknown;
  invalidJson(): Reply;
  unauthorized(): Reply;
  notFound(method: string, path: string): Reply;
  badScript(message: string): Reply;
  /** Name of the request-id response header. */
  readonly requestIdHeader: string;
}

export interface FakeDialectOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  behavior?: FakeBehavior;
  /** When set, the provider's key header (or `key=`) must match, else 401. */
  requireApiKey?: string;
  /** Keep a RecordedRequest per request (default true). */
  recordRequests?: boolean;
  /** Seed for the `failRate` draws (default: Math.random). */
  seed?: number;
  /** Served by the models endpoints. */
  models?: readonly string[];
  /** Clock in epoch ms (default Date.now), for `receivedAt`. */
  now?: () => number;
  /** Serve /_fake/stats, /_fake/behavior and /_fake/reset (default true). */
  control?: boolean;
}

const BEHAVIOR_HEADER = 'x-fake-behavior';
const ERROR_PAUSE_MS = 10;

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

export function startFakeDialect(dialect: Dialect, defaultModels: readonly string[], opts: FakeDialectOptions): Promise<FakeProvider> {
  const server = new FakeDialectServer(dialect, defaultModels, opts);
  return server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1');
}

class FakeDialectServer implements FakeProvider {
  url = '';
  port = 0;
  readonly requests: RecordedRequest[] = [];

  private readonly server: Server;
  private readonly initial: FakeBehavior;
  private behavior: FakeBehavior;
  private resolved: ResolvedBehavior;
  private readonly record: boolean;
  private readonly control: boolean;
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
  private closing: Promise<void> | null = null;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly dialect: Dialect,
    defaultModels: readonly string[],
    private readonly opts: FakeDialectOptions,
  ) {
    this.initial = validateBehavior(opts.behavior ?? {});
    this.behavior = this.initial;
    this.resolved = resolveBehavior(this.initial);
    this.record = opts.recordRequests ?? true;
    this.control = opts.control ?? true;
    this.random = opts.seed === undefined ? Math.random : seededRandom(opts.seed);
    this.now = opts.now ?? Date.now;
    this.models = opts.models ?? defaultModels;
    this.server = createServer(this.onRequest);
    this.server.keepAliveTimeout = 65_000;
    this.server.headersTimeout = 66_000;
  }

  listen(port: number, host: string): Promise<FakeProvider> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        this.port = (this.server.address() as AddressInfo).port;
        const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
        this.url = `http://${shown}:${this.port}`;
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

  private readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const query = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
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
      this.dispatch(ex, req, path, query, chunks.length === 0 ? null : Buffer.concat(chunks));
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

  private keyOf(req: IncomingMessage, query: URLSearchParams): string | null {
    for (const h of this.dialect.auth.headers) {
      const v = req.headers[h];
      if (typeof v === 'string') return v.startsWith('Bearer ') ? v.slice(7) : v;
    }
    return this.dialect.auth.queryKey ? query.get(this.dialect.auth.queryKey) : null;
  }

  private dispatch(ex: Exchange, req: IncomingMessage, path: string, query: URLSearchParams, raw: Buffer | null): void {
    const method = req.method ?? 'GET';
    let body: unknown;
    let malformed = false;
    if (raw !== null && raw.length > 0) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        malformed = true;
      }
    }
    const key = this.keyOf(req, query);
    if (this.record && ex.generation === this.generation) {
      ex.record = recordOf(req, method, path, body, this.now(), key, this.dialect.auth.headers);
      this.requests.push(ex.record);
    }
    if (this.opts.requireApiKey !== undefined && key !== this.opts.requireApiKey) {
      this.reply(ex, this.dialect.unauthorized());
      return;
    }
    const route = this.dialect.route(method, path, query, this.models);
    if (route.kind === 'reply') {
      this.reply(ex, route.reply);
      return;
    }
    let b = this.resolved;
    const header = req.headers[BEHAVIOR_HEADER];
    if (typeof header === 'string') {
      try {
        b = resolveBehavior({ ...this.behavior, ...parseBehaviorHeader(header) });
      } catch (err) {
        this.reply(ex, this.dialect.badScript((err as Error).message));
        return;
      }
    }
    if (malformed) {
      this.reply(ex, this.dialect.invalidJson());
      return;
    }
    const checked = this.dialect.check(req, body, route, path);
    if ('status' in checked) {
      this.reply(ex, checked);
      return;
    }
    if (b.hang) return;
    const model = b.model ?? checked.model;
    const fails = b.failRate !== undefined ? this.random() < b.failRate : b.failStatus !== undefined;
    const ctx: GenerateContext = { seq: this.nextSeq(), model, b, promptTokens: Math.max(checked.promptTokens, b.cachedTokens) };
    const respond = fails ? () => this.fail(ex, b, model) : checked.stream ? () => this.stream(ex, ctx, route.jsonArray) : () => this.complete(ex, ctx);
    const latency = drawLatency(b, this.random);
    if (latency > 0) {
      ex.timer = setTimeout(() => {
        ex.timer = null;
        if (!ex.closed) respond();
      }, latency);
    } else respond();
  }

  private complete(ex: Exchange, ctx: GenerateContext): void {
    if (ctx.b.breakAfterChunks !== undefined) {
      ex.broken = true;
      ex.res.destroy();
      return;
    }
    if (ex.record) ex.record.chunksSent = ctx.b.chunks;
    this.send(ex, 200, this.dialect.complete(ctx), { 'content-type': 'application/json' }, ctx.seq);
  }

  private stream(ex: Exchange, ctx: GenerateContext, jsonArray: boolean): void {
    const { b } = ctx;
    const plan = this.dialect.stream(ctx);
    const res = ex.res;
    const rec = ex.record;
    let first = true;
    const fmt = (e: WireEvent): string => {
      if (jsonArray) {
        const s = (first ? '[' : ',\r\n') + e.json;
        first = false;
        return s;
      }
      if (e.raw === true) return e.json + '\n';
      return e.event === undefined ? 'data: ' + e.json + '\n\n' : 'event: ' + e.event + '\ndata: ' + e.json + '\n\n';
    };
    const closing = jsonArray ? ']' : '';
    const n = b.chunks;
    const breakAt = b.breakAfterChunks === undefined ? -1 : Math.min(b.breakAfterChunks, n);
    const errorAt = b.errorAfterChunks === undefined ? -1 : Math.min(b.errorAfterChunks, n);
    res.writeHead(200, {
      'content-type': jsonArray ? 'application/json; charset=utf-8' : 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      [this.dialect.requestIdHeader]: 'req_' + ctx.seq,
    });
    if (rec) rec.status = 200;
    res.flushHeaders();

    let sent = 0;
    let headSent = false;
    // The error goes out as its own chunk, a moment after the content before it
    // (Gemini's bare-JSON error is only recognised by @google/genai when alone).
    const failAfter = (data: string): void => {
      if (data.length > 0) res.write(data);
      ex.timer = setTimeout(() => {
        ex.timer = null;
        if (!ex.closed) res.end(fmt(plan.error) + closing);
      }, ERROR_PAUSE_MS);
    };
    const tail = (): string => plan.tail.map(fmt).join('') + closing;
    const step = (): void => {
      ex.timer = null;
      if (ex.closed) return;
      if (!headSent) {
        headSent = true;
        const head = plan.head.map(fmt).join('');
        if (breakAt === 0) return this.writeThenBreak(ex, head);
        if (errorAt === 0) return failAfter(head);
        if (b.chunkDelayMs === 0) {
          // No pauses: the whole stream in one write, still a valid event stream.
          const stop = breakAt >= 0 ? breakAt : errorAt >= 0 ? errorAt : n;
          let body = head;
          for (let i = 0; i < stop; i++) body += fmt(plan.content);
          if (rec) rec.chunksSent = stop;
          if (breakAt >= 0) return this.writeThenBreak(ex, body);
          if (errorAt >= 0) return failAfter(body);
          return void res.end(body + tail());
        }
        res.write(head);
        if (n === 0) return void res.end(tail());
      }
      sent++;
      if (rec) rec.chunksSent = sent;
      const chunk = fmt(plan.content);
      if (sent === breakAt) return this.writeThenBreak(ex, chunk);
      if (sent === errorAt) return failAfter(chunk);
      if (sent === n) return void res.end(chunk + tail());
      res.write(chunk);
      ex.timer = setTimeout(step, b.chunkDelayMs);
    };
    if (b.ttftMs > 0) ex.timer = setTimeout(step, b.ttftMs);
    else step();
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
    const errorBody = b.failBody !== undefined ? b.failBody : this.dialect.errorFor(status, { model, retryAfterSeconds: b.retryAfterSeconds });
    headers['content-type'] = 'application/json';
    this.send(ex, status, JSON.stringify(errorBody), headers);
  }

  private reply(ex: Exchange, r: Reply): void {
    this.send(ex, r.status, JSON.stringify(r.body), { 'content-type': 'application/json' });
  }

  private send(ex: Exchange, status: number, payload: string, headers: Record<string, string>, seq?: string): void {
    if (ex.closed) return;
    headers['content-length'] = String(Buffer.byteLength(payload));
    headers[this.dialect.requestIdHeader] = 'req_' + (seq ?? this.nextSeq());
    ex.res.writeHead(status, headers);
    ex.res.end(payload);
    if (ex.record) ex.record.status = status;
  }

  private writeThenBreak(ex: Exchange, data: string): void {
    ex.broken = true;
    if (data.length === 0) ex.res.destroy();
    else ex.res.write(data, () => ex.res.destroy());
  }

  private nextSeq(): string {
    return this.idPrefix + (this.nextId++).toString(36);
  }

  private onControl(req: IncomingMessage, res: ServerResponse, path: string): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const method = req.method ?? 'GET';
      const reply = (status: number, payload: unknown): void => {
        const text = JSON.stringify(payload);
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
        res.end(text);
      };
      if (path === '/_fake/stats' && method === 'GET') reply(200, this.stats());
      else if (path === '/_fake/behavior' && method === 'GET') reply(200, this.behavior);
      else if (path === '/_fake/behavior' && (method === 'PUT' || method === 'POST')) {
        try {
          this.setBehavior(JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as FakeBehavior);
          reply(200, this.behavior);
        } catch (err) {
          const r = this.dialect.badScript((err as Error).message);
          reply(r.status, r.body);
        }
      } else if (path === '/_fake/reset' && method === 'POST') {
        this.reset();
        reply(200, this.stats());
      } else {
        const r = this.dialect.notFound(method, path);
        reply(r.status, r.body);
      }
    });
  }
}

function recordOf(
  req: IncomingMessage,
  method: string,
  path: string,
  body: unknown,
  receivedAt: number,
  key: string | null,
  authHeaders: readonly string[],
): RecordedRequest {
  const headers: Record<string, string | string[] | undefined> = {};
  const source: IncomingHttpHeaders = req.headers;
  for (const name of Object.keys(source)) {
    if (name === 'authorization' || authHeaders.includes(name)) continue;
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
