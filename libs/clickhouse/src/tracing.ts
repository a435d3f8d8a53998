import { SpanKind, SpanStatusCode, context, trace, type Attributes, type Tracer } from '@opentelemetry/api';
import { Readable } from 'node:stream';
import type { ClickHouseClient } from '@clickhouse/client';

const ROW_COUNT = Symbol('switchyard.clickhouse.rows');

/**
 * An insert body already in a raw format (TabSeparated, CSV): a byte stream
 * for `client.insert({ values, format })` that also tells the insert span how
 * many rows it holds.
 */
export function rawInsertBody(text: string, rows: number): Readable {
  return Object.assign(Readable.from([text], { objectMode: false }), { [ROW_COUNT]: rows });
}

function rowsOf(values: unknown): number | undefined {
  if (Array.isArray(values)) return values.length;
  const n = (values as { [ROW_COUNT]?: unknown } | null)?.[ROW_COUNT];
  return typeof n === 'number' ? n : undefined;
}

export interface ClickHouseTracingOptions {
  /** The database the client is bound to (db.name). */
  database: string;
  /** Spans are made only while this says so (e.g. telemetry's spansExported): otherwise the calls go straight through. */
  enabled: () => boolean;
  tracer?: Tracer;
}

/**
 * The statement's operation and first table, read from at most its first
 * 4 KiB with string literals removed first: no literal value ever reaches an
 * attribute.
 */
export function describeStatement(text: string): { operation: string; table?: string } {
  const head = withoutLiterals(text.slice(0, 4096));
  const operation = (/^\s*([A-Za-z]+)/.exec(head)?.[1] ?? 'UNKNOWN').toUpperCase();
  const table = /\b(?:FROM|INTO|TABLE(?:\s+IF\s+(?:NOT\s+)?EXISTS)?)\s+((?:`[^`]+`|[A-Za-z_]\w*)(?:\.(?:`[^`]+`|[A-Za-z_]\w*))?)/i.exec(head)?.[1];
  return table ? { operation, table: table.replace(/`/g, '') } : { operation };
}

/** `s` with every string literal's content removed (a literal cut off at the end included). */
function withoutLiterals(s: string): string {
  let out = '';
  let i = 0;
  while (i < s.length) {
    const q = s.indexOf("'", i);
    if (q < 0) return out + s.slice(i);
    out += `${s.slice(i, q)}''`;
    let j = q + 1;
    while (j < s.length && s[j] !== "'") j += s[j] === '\\' ? 2 : 1;
    i = j + 1;
  }
  return out;
}

interface Summary {
  read_rows?: string;
  written_rows?: string;
}

/**
 * Wraps a client so that each insert, query and command made under an active
 * span gets a CLIENT span `clickhouse <OPERATION> <table>` with db.system,
 * db.name, db.operation, db.sql.table, the rows sent (inserts of an array
 * or a {@link rawInsertBody}) and the
 * server's read/written rows when it reports them. The statement text is not
 * recorded: its escaped literals (ids, keys) stay out of traces. Calls
 * outside a span, or while `enabled()` is false, pass straight through.
 */
export function traceClickHouse(client: ClickHouseClient, opts: ClickHouseTracingOptions): ClickHouseClient {
  const tracer = opts.tracer ?? trace.getTracer('switchyard-clickhouse');

  async function traced<R extends { summary?: Summary; response_headers?: Record<string, unknown> }>(
    operation: string,
    table: string | undefined,
    extra: Attributes,
    call: () => Promise<R>,
  ): Promise<R> {
    const span = tracer.startSpan(`clickhouse ${operation}${table ? ` ${table}` : ''}`, {
      kind: SpanKind.CLIENT,
      attributes: { 'db.system': 'clickhouse', 'db.name': opts.database, 'db.operation': operation, ...(table ? { 'db.sql.table': table } : {}), ...extra },
    });
    try {
      const r = await context.with(trace.setSpan(context.active(), span), call);
      const summary = r.summary ?? parseSummary(r.response_headers?.['x-clickhouse-summary']);
      if (summary?.read_rows !== undefined) span.setAttribute('db.clickhouse.read_rows', Number(summary.read_rows));
      if (summary?.written_rows !== undefined) span.setAttribute('db.clickhouse.written_rows', Number(summary.written_rows));
      return r;
    } catch (e) {
      span.recordException(e as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (e as Error).message.slice(0, 200) });
      throw e;
    } finally {
      span.end();
    }
  }

  const on = () => opts.enabled() && trace.getSpan(context.active()) !== undefined;

  const insert: ClickHouseClient['insert'] = (params) => {
    if (!on()) return client.insert(params);
    const n = rowsOf(params.values);
    const rows = n === undefined ? {} : { 'db.clickhouse.rows': n };
    return traced('INSERT', params.table.replace(/`/g, ''), rows, () => client.insert(params));
  };
  const query = ((params: Parameters<ClickHouseClient['query']>[0]) => {
    if (!on()) return client.query(params);
    const d = describeStatement(params.query);
    return traced(d.operation, d.table, {}, () => client.query(params) as Promise<never>);
  }) as ClickHouseClient['query'];
  const command: ClickHouseClient['command'] = (params) => {
    if (!on()) return client.command(params);
    const d = describeStatement(params.query);
    return traced(d.operation, d.table, {}, () => client.command(params));
  };

  return new Proxy(client, {
    get(target, prop) {
      if (prop === 'insert') return insert;
      if (prop === 'query') return query;
      if (prop === 'command') return command;
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

function parseSummary(header: unknown): Summary | undefined {
  if (typeof header !== 'string') return undefined;
  try {
    return JSON.parse(header) as Summary;
  } catch {
    return undefined;
  }
}
