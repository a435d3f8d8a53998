import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { GatewayError } from '../errors/gateway-error';
import { toOpenAIError } from '../errors/openai-error';

/** Errors from Nest's own handlers (unknown routes above all) in OpenAI's shape too. */
@Catch()
export class OpenAIExceptionFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    let err: GatewayError;
    if (exception instanceof GatewayError) err = exception;
    else if (exception instanceof HttpException && exception.getStatus() === 404) {
      err = new GatewayError('not_found', { message: 'Unknown endpoint. See /v1/models and /v1/chat/completions.', code: 'unknown_url' });
    } else if (exception instanceof HttpException) {
      err = new GatewayError('invalid_request', { message: exception.message, status: exception.getStatus() });
    } else {
      err = new GatewayError('internal', { message: 'internal error', cause: exception });
    }
    void reply.status(err.status).send(toOpenAIError(err));
  }
}
