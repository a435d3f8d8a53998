import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { Logger } from '@switchyard/telemetry';

/** The OpenAI error body every Switchyard HTTP API answers with. */
export interface ApiErrorBody {
  error: { message: string; type: string; code: string };
}

/** An error with its HTTP status and OpenAI-style type and code. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }

  static badRequest(message: string, code = 'invalid_parameter'): ApiError {
    return new ApiError(400, 'invalid_request_error', code, message);
  }

  static notFound(message: string, code = 'not_found'): ApiError {
    return new ApiError(404, 'invalid_request_error', code, message);
  }

  body(): ApiErrorBody {
    return { error: { message: this.message, type: this.type, code: this.code } };
  }
}

/** Connection-level failures: the store is unreachable rather than the query wrong. */
function isUnavailable(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND'].includes(code);
}

/** The one place an exception becomes an HTTP error body. */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof HttpException) {
    const status = e.getStatus();
    if (status === 404) return ApiError.notFound('not found');
    const type = status >= 500 ? 'server_error' : 'invalid_request_error';
    return new ApiError(status, type, `http_${status}`, e.message);
  }
  if (isUnavailable(e) || /timeout/i.test((e as Error)?.message ?? '')) {
    return new ApiError(503, 'server_error', 'store_unavailable', 'the stats store is unavailable; retry later');
  }
  return new ApiError(500, 'server_error', 'internal_error', 'internal error');
}

@Catch()
export class ApiErrorFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const err = toApiError(exception);
    if (err.status >= 500) this.logger.error({ err: exception }, 'stats request failed');
    void host.switchToHttp().getResponse<FastifyReply>().status(err.status).send(err.body());
  }
}
