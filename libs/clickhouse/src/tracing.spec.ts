import { describe, expect, it } from 'vitest';
import { describeStatement } from './tracing';

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
