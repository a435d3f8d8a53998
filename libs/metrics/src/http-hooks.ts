import type { HttpMetrics } from './families';

/** The parts of a Fastify request the hooks read (structural: no Fastify import). */
export interface HookRequest {
  method: string;
  /** Fastify 5: the matched route template, e.g. `/v1/stats/requests/:requestId`. */
  routeOptions?: { url?: string };
}
export interface HookReply {
  statusCode: number;
  /** The Node response: when present, the request is timed to its close, so hijacked (streamed) replies count too. */
  raw?: { statusCode: number; once(event: 'close', fn: () => void): unknown };
}

/**
 * `onRequest` / `onResponse` hooks that feed {@link HttpMetrics}, labelled
 * by the matched route template (unmatched URLs share one `unmatched` label).
 * Wire them on the Fastify instance under a Nest app:
 *
 *     const hooks = httpMetricsHooks(http, ['/metrics']);
 *     fastify.addHook('onRequest', hooks.onRequest);
 *     fastify.addHook('onResponse', hooks.onResponse);
 */
export function httpMetricsHooks(http: HttpMetrics, skipRoutes: readonly string[] = ['/metrics']) {
  const ends = new WeakMap<object, (status: number) => void>();
  const skip = new Set(skipRoutes);
  return {
    onRequest(req: HookRequest, reply: HookReply, done: () => void): void {
      const route = req.routeOptions?.url;
      if (!(route && skip.has(route))) {
        const end = http.start(req.method, route ?? 'unmatched');
        const raw = reply.raw;
        // Streams are hijacked and never reach onResponse: time them to the socket's close.
        if (raw) raw.once('close', () => end(raw.statusCode));
        else ends.set(req, end);
      }
      done();
    },
    onResponse(req: HookRequest, reply: HookReply, done: () => void): void {
      const end = ends.get(req);
      if (end) {
        ends.delete(req);
        end(reply.statusCode);
      }
      done();
    },
  };
}
