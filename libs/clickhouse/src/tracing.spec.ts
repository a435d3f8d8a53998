import { describe, expect, it } from 'vitest';
import { ROOT_CONTEXT, context, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import type { ClickHouseClient } from '@clickhouse/client';
import { describeStatement, rawInsertBody, traceClickHouse } from './tracing';

describe('describeStatement', () => {
  it('names the operation and the first table', () => {
    expect(describeStatement('SELECT request_id FROM `usage_events` WHERE x = 1')).toEqual({ operation: 'SELECT', table: 'usage_events' });
    expect(describeStatement('  insert INTO db.usage_events FORMAT JSONEachRow')).toEqual({ operation: 'INSERT', table: 'db.usage_events' });
    expect(describeStatement('ALTER TABLE usage_events DELETE WHERE 1')).toEqual({ operation: 'ALTER', table: 'usage_events' });
    expect(describeStatement('CREATE TABLE IF NOT EXISTS t (x UInt8) ENGINE = Memory')).toEqual({ operation: 'CREATE', table: 't' });
    expect(describeStatement('SELECT 1')).toEqual({ operation: 'SELECT' });
  });

  it('never takes a word from inside a string literal', () => {
    expect(describeStatement("SELECT 'x from secret_key' AS a FROM usage_events")).toEqual({ operation: 'SELECT', table: 'usage_events' });
    expect(describeStatement("SELECT 'it\\'s from sk_live' FROM t")).toEqual({ operation: 'SELECT', table: 't' });
    // A literal cut off by the 4 KiB limit contributes nothing.
    expect(describeStatement(`SELECT ${'1,'.repeat(2040)} 'from sk_live ${'x'.repeat(100)}' FROM t`)).toEqual({ operation: 'SELECT' });
  });
});

describe('traceClickHouse', () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const tracer = provider.getTracer('spec');
  const calls: unknown[] = [];
  const inner = {
    insert: async (p: unknown) => (calls.push(p), { executed: true, query_id: 'q', summary: { written_rows: '2' } }),
    query: async (p: unknown) => (calls.push(p), { response_headers: {} }),
    command: async (p: unknown) => (calls.push(p), { query_id: 'c' }),
    close: async () => 'closed',
  } as unknown as ClickHouseClient;
  const parent = tracer.startSpan('parent');
  const inParent = <T>(fn: () => Promise<T>) => context.with(trace.setSpan(ROOT_CONTEXT, parent), fn);

  it('makes no span while disabled or outside a span, and passes the call through unchanged', async () => {
    let enabled = false;
    const traced = traceClickHouse(inner, { database: 'db', enabled: () => enabled, tracer });
    const params = { table: 'usage_events', values: [{ a: 1 }], format: 'JSONEachRow' as const };
    await inParent(() => traced.insert(params));
    enabled = true;
    await traced.insert(params); // no active span
    expect(calls.at(-1)).toBe(params);
    expect(exporter.getFinishedSpans()).toHaveLength(0);
    expect(await traced.close()).toBe('closed');
  });

  it('records operation, table and rows, never the statement or a literal', async () => {
    const traced = traceClickHouse(inner, { database: 'db', enabled: () => true, tracer });
    await inParent(() => traced.insert({ table: '`usage_events`', values: rawInsertBody('a\tb\nc\td\n', 2), format: 'TabSeparated' }));
    await inParent(() => traced.query({ query: "SELECT request_id FROM usage_events WHERE request_id IN ('req_secret')" }));
    const [insert, query] = exporter.getFinishedSpans();
    expect(insert!.name).toBe('clickhouse INSERT usage_events');
    expect(insert!.attributes).toEqual({
      'db.system': 'clickhouse',
      'db.name': 'db',
      'db.operation': 'INSERT',
      'db.sql.table': 'usage_events',
      'db.clickhouse.rows': 2,
      'db.clickhouse.written_rows': 2,
    });
    expect(insert!.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(query!.name).toBe('clickhouse SELECT usage_events');
    expect(JSON.stringify(query!.attributes)).not.toContain('req_secret');
  });
});
