import { NodeSDK } from '@opentelemetry/sdk-node';
import { OTLPTraceExporter as OTLPProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as OTLPJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { BatchSpanProcessor, NoopSpanProcessor, RandomIdGenerator, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { INVALID_SPAN_CONTEXT, ROOT_CONTEXT, TraceFlags, trace, type Span, type SpanOptions, type Tracer } from '@opentelemetry/api';

export interface TelemetryOptions {
  serviceName: string;
  serviceVersion?: string;
  /** Extra processors (tests attach an in-memory exporter here). */
  spanProcessors?: SpanProcessor[];
  env?: Record<string, string | undefined>;
  /**
   * Client libraries to trace with their maintained OpenTelemetry
   * instrumentation, only while spans are exported. `pg` must be required
   * after startTelemetry (start telemetry first in main.ts).
   */
  instrument?: Array<'pg'>;
}

export interface Telemetry {
  tracer: Tracer;
  /** True when spans leave the process (an OTLP endpoint is configured). */
  exporting: boolean;
  shutdown(): Promise<void>;
}

/**
 * Starts the OpenTelemetry Node SDK once per process. Spans are always
 * created (their trace ids go into usage events and logs); they are exported
 * only when OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is
 * set, so an unconfigured machine neither exports nor logs exporter errors.
 * Sampling follows the standard OTEL_TRACES_SAMPLER variables.
 */
let spansLeaveProcess = false;

/**
 * True when spans go to an exporter (OTLP, or a test's processor). Spans that
 * only exist for an SRE reading a trace (database calls, bus publishes,
 * batch writes) are created only then: without an exporter they would cost
 * allocations on hot paths and go nowhere.
 */
export function spansExported(): boolean {
  return spansLeaveProcess;
}

const ids = new RandomIdGenerator();
/** Stands for a child span that would go nowhere: records nothing, ends as a no-op. */
const NO_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/**
 * A request's root span. Exported: a real SDK span. Not exported: a
 * non-recording span that still carries a fresh trace id (sampled flag set,
 * as the SDK's default sampler would), so usage events, logs and message
 * headers keep their trace ids without the SDK building a span nobody reads.
 */
export function startRequestSpan(tracer: Tracer, name: string, options: SpanOptions): Span {
  if (spansLeaveProcess) return tracer.startSpan(name, options);
  return trace.wrapSpanContext({ traceId: ids.generateTraceId(), spanId: ids.generateSpanId(), traceFlags: TraceFlags.SAMPLED });
}

/** A child of `parent`, made only when spans are exported (otherwise a no-op span). */
export function startChildSpan(tracer: Tracer, name: string, options: SpanOptions, parent: Span): Span {
  return spansLeaveProcess ? tracer.startSpan(name, options, trace.setSpan(ROOT_CONTEXT, parent)) : NO_SPAN;
}

export function startTelemetry(opts: TelemetryOptions): Telemetry {
  const env = opts.env ?? process.env;
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const processors: SpanProcessor[] = [...(opts.spanProcessors ?? [])];
  if (endpoint) {
    // OTLP over HTTP: protobuf by default, JSON when OTEL_EXPORTER_OTLP_PROTOCOL=http/json.
    const protocol = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL || 'http/protobuf';
    processors.push(new BatchSpanProcessor(protocol === 'http/json' ? new OTLPJsonExporter() : new OTLPProtoExporter()));
  }
  spansLeaveProcess = processors.length > 0;
  // With nothing to export, a no-op processor still makes the SDK register its
  // tracer provider: requests get real trace ids for events and logs.
  if (processors.length === 0) processors.push(new NoopSpanProcessor());
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: env.OTEL_SERVICE_NAME || opts.serviceName,
      [ATTR_SERVICE_VERSION]: opts.serviceVersion ?? '0.1.0',
    }),
    spanProcessors: processors,
    // Hot paths are traced by hand (one span per request and per upstream
    // attempt); automatic instrumentation would add its cost to every request.
    instrumentations: spansLeaveProcess ? clientInstrumentations(opts.instrument ?? []) : [],
    metricReaders: [],
  });
  sdk.start();
  return {
    tracer: trace.getTracer(`switchyard-${opts.serviceName}`),
    exporting: Boolean(endpoint),
    shutdown: () => sdk.shutdown(),
  };
}

/**
 * Postgres via @opentelemetry/instrumentation-pg: a CLIENT span per query
 * (name `pg.query:<OPERATION> <db>`) with db.system, db.name, db.user,
 * net.peer.name/port, db.statement (kysely's parameterized text: `$1`
 * placeholders, never the values) and db.operation. Parameter values are not
 * recorded (enhancedDatabaseReporting off), nor are connection-string
 * credentials (the instrumentation masks them). Only queries under a span of
 * ours are traced (requireParentSpan): housekeeping queries do not make
 * traces of their own.
 */
function clientInstrumentations(names: Array<'pg'>) {
  const out = [];
  if (names.includes('pg')) {
    // Loaded only when used: services without Postgres never load it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { PgInstrumentation } = require('@opentelemetry/instrumentation-pg') as typeof import('@opentelemetry/instrumentation-pg');
    out.push(
      new PgInstrumentation({
        enhancedDatabaseReporting: false,
        requireParentSpan: true,
        requestHook: (span, info) => {
          const op = /^\s*([A-Za-z]+)/.exec(info.query.text)?.[1];
          if (op) span.setAttribute('db.operation', op.toUpperCase());
        },
      }),
    );
  }
  return out;
}
