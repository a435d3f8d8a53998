import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';

const API_PATHS = /^\/(admin\/v1|v1\/me)(\/|$|\?)/;

const TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'invalid_request_error',
  413: 'invalid_request_error',
  415: 'invalid_request_error',
  503: 'service_unavailable',
};

/**
 * Every error under /admin/v1 and /v1/me leaves as an OpenAI-style body,
 * including the ones raised before a handler runs (malformed JSON, unknown
 * route, body too large). Other paths (health checks) keep their own bodies.
 * Unexpected errors become a 500 without details.
 */
@Catch()
export class OpenAiErrorFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const req = ctx.getRequest<FastifyRequest>();
    const reply = ctx.getResponse<FastifyReply>();
    const status = exception instanceof HttpException ? exception.getStatus() : 500;
    const body: unknown = exception instanceof HttpException ? exception.getResponse() : { statusCode: 500, message: 'Internal server error' };
    if (!API_PATHS.test(req.url) || hasOpenAiShape(body)) {
      void reply.status(status).send(body);
      return;
    }
    const raw = typeof body === 'object' && body !== null ? (body as { message?: unknown }).message : body;
    const message = status >= 500 ? 'internal error' : Array.isArray(raw) ? raw.join('; ') : String(raw ?? 'error');
    void reply.status(status).send({ error: { message, type: TYPES[status] ?? (status >= 500 ? 'server_error' : 'invalid_request_error'), code: null, param: null } });
  }
}

function hasOpenAiShape(body: unknown): boolean {
  const e = (body as { error?: unknown } | null)?.error;
  return typeof e === 'object' && e !== null && typeof (e as { message?: unknown }).message === 'string';
}
