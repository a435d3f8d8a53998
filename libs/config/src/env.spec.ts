import { describe, expect, it } from 'vitest';
import { envBool, envInt, loadConnectionConfig, redactUrl } from './index';

describe('config from env', () => {
  it('uses local defaults when nothing is set', () => {
    expect(loadConnectionConfig({})).toMatchObject({ natsUrl: 'nats://127.0.0.1:4222', clickhouseUrl: 'http://127.0.0.1:8123' });
  });
  it('stops with the variable name on a malformed integer', () => {
    expect(() => envInt({ PORT: 'abc' }, 'PORT', 1)).toThrow(/PORT/);
    expect(envInt({ PORT: '8080' }, 'PORT', 1)).toBe(8080);
  });
  it('reads booleans strictly', () => {
    expect(envBool({ X: 'yes' }, 'X', false)).toBe(true);
    expect(() => envBool({ X: 'maybe' }, 'X', false)).toThrow(/X/);
  });
  it('never logs a password in a URL', () => {
    expect(redactUrl('postgres://u:secret@h:5432/db')).not.toContain('secret');
  });
});
