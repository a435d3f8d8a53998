import { afterAll, describe, expect, it } from 'vitest';
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { activeTraceId, injectTraceHeaders, extractTraceContext, spansExported, startChildSpan, startRequestSpan, startTelemetry } from './index';

const telemetry = startTelemetry({ serviceName: 'spec', env: {} });
afterAll(() => telemetry.shutdown());

describe('startTelemetry without an exporter', () => {
  it('exports nothing but still gives every span a real trace id', () => {
    expect(telemetry.exporting).toBe(false);
    // Spans made only for an exported trace (database, publish, batch spans) are skipped.
    expect(spansExported()).toBe(false);
    const span = telemetry.tracer.startSpan('x');
    expect(activeTraceId(trace.setSpan(ROOT_CONTEXT, span))).toMatch(/^[0-9a-f]{32}$/);
    span.end();
  });

  it('carries the trace across message headers', () => {
    const span = telemetry.tracer.startSpan('producer');
    const h = new Map<string, string>();
    const carrier = { get: (k: string) => h.get(k) ?? '', set: (k: string, v: string) => void h.set(k, v), has: (k: string) => h.has(k), keys: () => [...h.keys()] };
    injectTraceHeaders(carrier, trace.setSpan(ROOT_CONTEXT, span));
    expect(h.get('traceparent')).toContain(span.spanContext().traceId);
    expect(activeTraceId(extractTraceContext(carrier))).toBe(span.spanContext().traceId);
    span.end();
  });

  it('gives each request its own trace id, sampled, across message headers, without recording spans', () => {
    const a = startRequestSpan(telemetry.tracer, 'POST /v1/chat/completions', { attributes: { 'switchyard.model': 'm' } });
    const b = startRequestSpan(telemetry.tracer, 'POST /v1/chat/completions', {});
    expect(a.isRecording()).toBe(false);
    const id = activeTraceId(trace.setSpan(ROOT_CONTEXT, a));
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(activeTraceId(trace.setSpan(ROOT_CONTEXT, b))).not.toBe(id);
    const h = new Map<string, string>();
    const carrier = { get: (k: string) => h.get(k) ?? '', set: (k: string, v: string) => void h.set(k, v), has: (k: string) => h.has(k), keys: () => [...h.keys()] };
    injectTraceHeaders(carrier, trace.setSpan(ROOT_CONTEXT, a));
    expect(h.get('traceparent')).toMatch(new RegExp(`^00-${id}-[0-9a-f]{16}-01$`));
    expect(startChildSpan(telemetry.tracer, 'upstream attempt', {}, a).isRecording()).toBe(false);
  });
});
