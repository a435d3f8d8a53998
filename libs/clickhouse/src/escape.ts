/**
 * The one place SQL literals are made. ClickHouse 18.16 has no server-side
 * query parameters, so every value that reaches a query goes through here.
 *
 * String literals use single quotes with backslash escapes, the form both
 * 18.16 and current releases parse the same way. Backslash and quote are
 * escaped; control characters become `\n`, `\r`, `\t` or `\xHH` (never `\0`,
 * which a following digit could be mistaken to extend); everything else,
 * including any Unicode, is passed through as UTF-8.
 */

/** A piece of SQL that is already safe: made by {@link sql}, {@link identifier} or {@link literalList}. */
export class SqlFragment {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** A value {@link literal} accepts. */
export type SqlValue = string | number | bigint | boolean | Date | null | readonly SqlValue[];

const ESCAPES: Record<string, string> = { '\\': '\\\\', "'": "\\'", '`': '\\`', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeChar(c: string): string {
  return ESCAPES[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
}

// Matching control characters is the point of these two patterns.
// eslint-disable-next-line no-control-regex
const STRING_SPECIALS = /[\\'\x00-\x1f\x7f]/g;
// eslint-disable-next-line no-control-regex
const IDENTIFIER_SPECIALS = /[\\`\x00-\x1f\x7f]/g;

/** `'…'`: a string literal holding exactly `s`. */
export function quoteString(s: string): string {
  if (typeof s !== 'string') throw new TypeError(`quoteString expects a string, got ${typeof s}`);
  return `'${s.replace(STRING_SPECIALS, escapeChar)}'`;
}

/** `` `…` ``: a database, table or column name. An empty name is refused. */
export function quoteIdentifier(name: string): string {
  if (typeof name !== 'string' || name.length === 0) throw new TypeError('an identifier must be a non-empty string');
  return `\`${name.replace(IDENTIFIER_SPECIALS, escapeChar)}\``;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** 'YYYY-MM-DD hh:mm:ss' in UTC: the text form of a DateTime('UTC') column. Milliseconds are dropped. */
export function formatDateTime(d: Date): string {
  if (!(d instanceof Date) || Number.isNaN(d.getTime())) throw new TypeError('invalid Date');
  return `${formatDate(d)} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

/** 'YYYY-MM-DD' in UTC: the text form of a Date column. */
export function formatDate(d: Date): string {
  if (!(d instanceof Date) || Number.isNaN(d.getTime())) throw new TypeError('invalid Date');
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

function numberLiteral(text: string): string {
  // A negative number is parenthesised so that `-${x}` can never become a `--` comment.
  return text.startsWith('-') ? `(${text})` : text;
}

/**
 * A SQL literal for `value`: strings quoted, finite numbers and bigints as
 * numbers, booleans as 1/0 (18.16 has no `true`), Dates as a UTC
 * 'YYYY-MM-DD hh:mm:ss' string, null as NULL, arrays as `[…]`.
 * Anything else (undefined, NaN, Infinity, objects) throws rather than
 * guessing.
 */
export function literal(value: SqlValue): string {
  if (value === null) return 'NULL';
  switch (typeof value) {
    case 'string':
      return quoteString(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`cannot write ${value} as a SQL literal`);
      return numberLiteral(String(Object.is(value, -0) ? 0 : value));
    case 'bigint':
      return numberLiteral(value.toString());
    case 'boolean':
      return value ? '1' : '0';
    case 'object':
      if (value instanceof Date) return quoteString(formatDateTime(value));
      if (Array.isArray(value)) return `[${value.map((v: SqlValue) => literal(v)).join(', ')}]`;
      break;
  }
  throw new TypeError(`cannot write a value of type ${value === undefined ? 'undefined' : typeof value} as a SQL literal`);
}

/** `(a, b, c)` for `x IN (…)`. An empty list is refused: `IN ()` is a syntax error. */
export function literalList(values: readonly SqlValue[]): SqlFragment {
  if (values.length === 0) throw new TypeError('an IN list needs at least one value');
  return new SqlFragment(`(${values.map((v) => literal(v)).join(', ')})`);
}

/** A quoted identifier that can be interpolated into {@link sql}. */
export function identifier(name: string): SqlFragment {
  return new SqlFragment(quoteIdentifier(name));
}

/**
 * Tagged template: interpolated values become literals, fragments are
 * spliced in as they are.
 *
 *     sql`SELECT * FROM ${identifier(table)} WHERE id = ${id} AND d IN ${literalList(days)}`
 */
export function sql(strings: TemplateStringsArray, ...values: Array<SqlValue | SqlFragment>): SqlFragment {
  let text = strings[0]!;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    text += (v instanceof SqlFragment ? v.text : literal(v)) + strings[i + 1]!;
  }
  return new SqlFragment(text);
}

/** Joins fragments with a separator (default `, `); for WHERE clauses pass `' AND '`. */
export function joinSql(parts: readonly SqlFragment[], separator = ', '): SqlFragment {
  return new SqlFragment(parts.map((p) => p.text).join(separator));
}
