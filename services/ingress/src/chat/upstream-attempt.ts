import type { Dispatcher } from 'undici';
import type { ErrorClass, PlanCandidate, TokenUsage } from '@switchyard/contracts';
import { GatewayError, type TimeoutPhase } from '../errors/gateway-error';
import type { UpstreamTimeouts } from '../ingress.config';
import type { UpstreamHttpRequest } from '../providers/openai/api';
import { upstreamErrorFromResponse } from '../providers/openai/errors';
import type { UpstreamPools } from '../upstream/upstream.pool';

/** Longest upstream error body read; the rest is discarded. */
const MAX_ERROR_BODY = 64 * 1024;

/**
 * One call to one channel: owns its abort controller and timers, and turns
 * every way it can fail (refused, reset, each timeout, an error status) into
 * a classified GatewayError.
 */
export class UpstreamAttempt {
  readonly controller = new AbortController();
  readonly startedAt = performance.now();
  status = 0;
  ttftMs: number | null = null;
  endedAt: number | null = null;
  errorClass: ErrorClass | null = null;
  /**
   * The tokens this attempt delivered to the client; set only when more than
   * one attempt delivered (mid-stream failover), so each is billed at its own
   * channel's price.
   */
  delivered: TokenUsage | null = null;
  /** Called when the upstream refuses the credential (an auth error status): an OAuth token is then dropped. */
  onAuthRejected: (() => void) | undefined;
  private abortReason: GatewayError | undefined;
  private totalTimer: NodeJS.Timeout | undefined;
  private firstTokenTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly candidate: PlanCandidate,
    readonly startedAfterMs: number,
    private readonly timeouts: UpstreamTimeouts,
  ) {}

  /** Sends the request; resolves with a 2xx response or throws a classified error. */
  async send(pools: UpstreamPools, req: UpstreamHttpRequest): Promise<Dispatcher.ResponseData> {
    this.totalTimer = setTimeout(() => this.abort(this.timeout('total')), this.timeouts.totalMs);
    let res: Dispatcher.ResponseData;
    try {
      res = await pools.get(req.origin).request({
        path: req.path,
        method: 'POST',
        headers: req.headers,
        body: req.body,
        signal: this.controller.signal,
        headersTimeout: this.timeouts.headersMs,
        bodyTimeout: this.timeouts.idleMs,
      });
    } catch (e) {
      throw this.fail(this.classifyThrown(e, false));
    }
    this.status = res.statusCode;
    if (res.statusCode >= 200 && res.statusCode < 300) return res;
    let raw = '';
    try {
      raw = await readCapped(res.body, MAX_ERROR_BODY);
    } catch {
      /* the status says enough */
    }
    const err = upstreamErrorFromResponse(res.statusCode, raw, res.headers, this.candidate.provider, this.candidate.channel_id);
    if (err.errorClass === 'auth') this.onAuthRejected?.();
    throw this.fail(err);
  }

  /**
   * Reads a whole JSON answer: a body that breaks is classified like any
   * transport failure, one that is not JSON is a retryable upstream error.
   */
  async readJson(res: Dispatcher.ResponseData): Promise<{ buf: Buffer; parsed: unknown }> {
    let buf: Buffer;
    try {
      buf = Buffer.from(await res.body.arrayBuffer());
    } catch (e) {
      throw this.classifyThrown(e, false);
    }
    try {
      return { buf, parsed: JSON.parse(buf.toString('utf8')) };
    } catch (e) {
      throw this.malformed(e);
    }
  }

  /** The upstream answered something it should not have (not JSON, not its protocol's shape). */
  malformed(cause: unknown): GatewayError {
    return new GatewayError('upstream_error', {
      message: 'The upstream provider returned a malformed response.',
      errorClass: 'transient',
      retryable: true,
      provider: this.candidate.provider,
      channelId: this.candidate.channel_id,
      cause,
    });
  }

  /** Streams: arms the time-to-first-token limit after headers arrived. */
  armFirstToken(): void {
    this.firstTokenTimer = setTimeout(() => this.abort(this.timeout('first_token')), this.timeouts.firstTokenMs);
  }

  markFirstToken(): void {
    if (this.ttftMs === null) this.ttftMs = performance.now() - this.startedAt;
    if (this.firstTokenTimer) clearTimeout(this.firstTokenTimer);
    this.firstTokenTimer = undefined;
  }

  /** Aborts the upstream call; the reason wins over undici's generic abort error. */
  abort(reason: GatewayError): void {
    if (this.controller.signal.aborted) return;
    this.abortReason = reason;
    this.controller.abort(reason);
  }

  /** A failure while reading the body, before or after the client saw anything. */
  classifyThrown(e: unknown, midStream: boolean): GatewayError {
    if (this.abortReason) return this.abortReason;
    const code = (e as { code?: string })?.code ?? '';
    const { provider, channel_id: channelId } = this.candidate;
    if (code === 'UND_ERR_CONNECT_TIMEOUT') return this.timeout('connect');
    if (code === 'UND_ERR_HEADERS_TIMEOUT') return this.timeout('headers');
    if (code === 'UND_ERR_BODY_TIMEOUT') return this.timeout('idle');
    if (midStream || code === 'UND_ERR_SOCKET' || code === 'ECONNRESET') {
      if (midStream) {
        return new GatewayError('upstream_error', {
          message: 'The upstream stream broke before it finished.',
          code: 'stream_interrupted',
          errorClass: 'mid_stream',
          provider,
          channelId,
          cause: e,
        });
      }
    }
    return new GatewayError('upstream_unreachable', {
      message: 'The upstream provider could not be reached.',
      errorClass: 'connect',
      retryable: true,
      provider,
      channelId,
      cause: e,
    });
  }

  /**
   * Books the attempt as ended with `err` now while its request keeps
   * running (an early probe that lost the race runs on to its own answer for
   * its channel's health; the books count it a loser from this moment).
   */
  markLost(err: GatewayError): void {
    this.errorClass = err.errorClass ?? 'unknown';
    if (this.endedAt === null) this.endedAt = performance.now();
  }

  fail(err: GatewayError): GatewayError {
    this.errorClass = err.errorClass ?? 'unknown';
    this.finish();
    return err;
  }

  finish(): void {
    if (this.endedAt === null) this.endedAt = performance.now();
    if (this.totalTimer) clearTimeout(this.totalTimer);
    if (this.firstTokenTimer) clearTimeout(this.firstTokenTimer);
  }

  get latencyMs(): number {
    return (this.endedAt ?? performance.now()) - this.startedAt;
  }

  private timeout(phase: TimeoutPhase): GatewayError {
    return new GatewayError('upstream_timeout', {
      message: `The upstream provider timed out (${phase.replace('_', ' ')}).`,
      code: `timeout_${phase}`,
      errorClass: 'timeout',
      timeoutPhase: phase,
      retryable: true,
      provider: this.candidate.provider,
      channelId: this.candidate.channel_id,
    });
  }
}

async function readCapped(body: Dispatcher.ResponseData['body'], max: number): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of body) {
    const b = chunk as Buffer;
    if (n + b.length > max) {
      parts.push(b.subarray(0, max - n));
      body.destroy();
      break;
    }
    parts.push(b);
    n += b.length;
  }
  return Buffer.concat(parts).toString('utf8');
}

/**
 * A client that hangs up before its answer is complete: every upstream
 * attempt of its request is aborted at once (recorded as client_abort).
 */
export function abortAttemptsOnClientClose(raw: { writableFinished: boolean; once(event: 'close', fn: () => void): unknown }, ex: { clientGone: boolean; attempts: readonly UpstreamAttempt[] }): void {
  raw.once('close', () => {
    if (raw.writableFinished) return;
    ex.clientGone = true;
    for (const a of ex.attempts) a.abort(new GatewayError('invalid_request', { message: 'client closed the request', status: 499, errorClass: 'client_abort' }));
  });
}
