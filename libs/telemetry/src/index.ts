export { startTelemetry, spansExported, startRequestSpan, startChildSpan } from './tracing';
export type { Telemetry, TelemetryOptions } from './tracing';
export { injectTraceHeaders, extractTraceContext, activeTraceId } from './propagation';
export type { HeaderCarrier } from './propagation';
export { createLogger } from './logger';
export type { Logger } from './logger';
