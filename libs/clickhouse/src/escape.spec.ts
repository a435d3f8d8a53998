import { describe, expect, it } from 'vitest';
import {
  SqlFragment,
  formatDate,
  formatDateTime,
  identifier,
  joinSql,
  literal,
  literalList,
  quoteIdentifier,
  quoteString,
  sql,
} from './escape';

/**
 * Reads a literal the way ClickHouse's parser does (the escapes it knows),
 * so every case checks both the exact text and that it means the input.
 */
function unquote(lit: string, quote = "'"): string {
  expect(lit.startsWith(quote) && lit.endsWith(quote)).toBe(true);
  const body = lit.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === quote) throw new Error(`unescaped quote at ${i} in ${lit}`);
    if (c !== '\\') {
      out += c;
      continue;
    }
    const n = body[++i]!;
    if (n === 'x') {
      out += String.fromCharCode(parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    } else out += ({ n: '\n', r: '\r', t: '\t', '0': '\0', b: '\b', f: '\f' } as Record<string, string>)[n] ?? n;
  }
  return out;
}

describe('quoteString', () => {
  const cases: Array<[name: string, input: string, expected: string]> = [
    ['plain text', 'hello', "'hello'"],
    ['empty string', '', "''"],
    ['single quote', "it's", "'it\\'s'"],
    ['doubled quotes', "''", "'\\'\\''"],
    ['backslash', 'a\\b', "'a\\\\b'"],
    ['backslash before quote', "\\'", "'\\\\\\''"],
    ['trailing backslash', 'ends\\', "'ends\\\\'"],
    ['newline, CR and tab', 'a\nb\rc\td', "'a\\nb\\rc\\td'"],
    ['NUL followed by a digit stays one NUL', '\x001', "'\\x001'"],
    ['other control characters', '\x01\x08\x0c\x1b\x1f\x7f', "'\\x01\\x08\\x0c\\x1b\\x1f\\x7f'"],
    ['backtick and double quote are plain in strings', '`"', "'`\"'"],
    ['unicode passes through', 'é日本😀\u2028', "'é日本😀\u2028'"],
    ['a template placeholder is just text', '{id:String}', "'{id:String}'"],
    ['injection: closing quote and new clause', "x' OR 1=1 --", "'x\\' OR 1=1 --'"],
    ['injection: escaped quote trick', "\\' OR 1=1 --", "'\\\\\\' OR 1=1 --'"],
    ['injection: second statement', "'; DROP TABLE usage_events; --", "'\\'; DROP TABLE usage_events; --'"],
    ['injection: comment start', "*/ --\n#", "'*/ --\\n#'"],
  ];
  it.each(cases)('%s', (_name, input, expected) => {
    expect(quoteString(input)).toBe(expected);
    expect(unquote(quoteString(input))).toBe(input);
  });

  it('never leaves a quote unescaped, whatever the input', () => {
    const alphabet = ["'", '\\', '\n', '\0', 'x', '0', '`', '"', '😀', '\x7f', ' ', '-'];
    let seed = 12345;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % alphabet.length;
    for (let i = 0; i < 2000; i++) {
      let s = '';
      for (let j = 0; j < 1 + (i % 12); j++) s += alphabet[next()];
      expect(unquote(quoteString(s))).toBe(s);
    }
  });

  it('refuses a non-string', () => {
    expect(() => quoteString(5 as unknown as string)).toThrow(TypeError);
  });
});

describe('quoteIdentifier', () => {
  const cases: Array<[string, string, string]> = [
    ['plain name', 'usage_events', '`usage_events`'],
    ['dots are part of the name', 'a.b', '`a.b`'],
    ['backtick', 'we`ird', '`we\\`ird`'],
    ['backslash', 'a\\b', '`a\\\\b`'],
    ['single quote is plain', "it's", "`it's`"],
    ['newline', 'a\nb', '`a\\nb`'],
    ['injection', 'x` ; DROP DATABASE switchyard; --', '`x\\` ; DROP DATABASE switchyard; --`'],
  ];
  it.each(cases)('%s', (_name, input, expected) => {
    expect(quoteIdentifier(input)).toBe(expected);
    expect(unquote(quoteIdentifier(input), '`')).toBe(input);
  });
  it('refuses an empty name', () => {
    expect(() => quoteIdentifier('')).toThrow(TypeError);
  });
});

describe('literal', () => {
  const cases: Array<[string, Parameters<typeof literal>[0], string]> = [
    ['string', "o'k", "'o\\'k'"],
    ['integer', 42, '42'],
    ['zero', 0, '0'],
    ['negative zero', -0, '0'],
    ['negative integer is parenthesised (no `--` comment)', -5, '(-5)'],
    ['float', 1.5, '1.5'],
    ['small float', 1e-7, '1e-7'],
    ['large float', 1.5e300, '1.5e+300'],
    ['max safe integer', Number.MAX_SAFE_INTEGER, '9007199254740991'],
    ['bigint', 18446744073709551615n, '18446744073709551615'],
    ['negative bigint', -9223372036854775808n, '(-9223372036854775808)'],
    ['true', true, '1'],
    ['false', false, '0'],
    ['null', null, 'NULL'],
    ['Date in UTC, milliseconds dropped', new Date('2024-02-29T23:59:58.999+02:00'), "'2024-02-29 21:59:58'"],
    ['epoch', new Date(0), "'1970-01-01 00:00:00'"],
    ['array', [1, 'a', null], "[1, 'a', NULL]"],
    ['nested array', [[1], [], ["'"]], "[[1], [], ['\\'']]"],
    ['empty array', [], '[]'],
  ];
  it.each(cases)('%s', (_name, input, expected) => {
    expect(literal(input)).toBe(expected);
  });

  it.each([
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
    ['undefined', undefined],
    ['plain object', { a: 1 }],
    ['invalid Date', new Date('nope')],
    ['array holding undefined', [1, undefined]],
    ['symbol', Symbol('x')],
  ])('refuses %s', (_name, input) => {
    expect(() => literal(input as never)).toThrow(TypeError);
  });
});

describe('literalList, identifier, sql', () => {
  it('makes an IN list and refuses an empty one', () => {
    expect(literalList(['a', "b'", 3]).text).toBe("('a', 'b\\'', 3)");
    expect(() => literalList([])).toThrow(/at least one/);
  });

  it('interpolates values as literals and fragments as they are', () => {
    const q = sql`SELECT * FROM ${identifier('usage_events')} WHERE id = ${"x' OR 1=1"} AND n > ${-1} AND d IN ${literalList([
      new Date(Date.UTC(2024, 0, 2)),
    ])}`;
    expect(q).toBeInstanceOf(SqlFragment);
    expect(String(q)).toBe(
      "SELECT * FROM `usage_events` WHERE id = 'x\\' OR 1=1' AND n > (-1) AND d IN ('2024-01-02 00:00:00')",
    );
  });

  it('joins fragments', () => {
    expect(joinSql([sql`a = ${1}`, sql`b = ${'x'}`], ' AND ').text).toBe("a = 1 AND b = 'x'");
  });

  it('formats UTC dates and date-times with zero padding', () => {
    const d = new Date(Date.UTC(987, 0, 5, 3, 4, 5));
    expect(formatDate(d)).toBe('0987-01-05');
    expect(formatDateTime(d)).toBe('0987-01-05 03:04:05');
  });
});
