import pino, { type Logger } from 'pino';
import { trace, context } from '@opentelemetry/api';

export type { Logger } from 'pino';

/**
 * JSON logs with the active trace and span ids on every line, so a log line
 * leads to its trace. Never pass prompts, API keys or credentials to a logger:
 * the redact list below is a last line of defence, not the policy.
 */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ['api_key', 'apiKey', 'key', 'authorization', '*.api_key', '*.apiKey', '*.authorization', 'credential', '*.credential'],
      censor: '[redacted]',
    },
    mixin() {
      const sc = trace.getSpanContext(context.active());
      return sc ? { trace_id: sc.traceId, span_id: sc.spanId } : {};
    },
  });
}
