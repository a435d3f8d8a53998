import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfigData, parseConfigText, type ConfigIssue } from './declarative-config';

const FULL = `
accounts:
  - id: acme
    balance_usd: "100.00"
groups:
  - id: resellers
    price_multiplier: "1.25"
    models: ["gpt-4o*"]
keys:
  - account: acme
    name: ci
    key: \${ACME_KEY}
    models: ["*"]
    group: resellers
    route: { mode: smart, preset: performance }
    limits: { rpm: 600, tpm: 200000, budget_usd_per_day: "20.00" }
channels:
  - id: fast-openai
    provider: openai
    base_url: http://127.0.0.1:9001/v1
    api_key: \${FAST_KEY}
    priority: 1
    weight: 1
    models:
      - id: gpt-4o-mini
        upstream: gpt-4o-mini-2024-07-18
        price_usd_per_mtok: { input: "0.15", output: "0.60", cached_input: "0.075" }
      - id: gpt-4o
`;

const ENV = { ACME_KEY: 'sk-sy-acme-0123456789abcdef', FAST_KEY: 'sk-upstream-fast' };

/** The issues of a file that must be refused. */
function issuesOf(text: string, env: Record<string, string> | null = ENV): ConfigIssue[] {
  try {
    parseConfigText(text, { env });
  } catch (e) {
    if (e instanceof ConfigError) return e.issues;
    throw e;
  }
  throw new Error('the file was accepted');
}

describe('declarative configuration parsing', () => {
  it('turns the design example into exact amounts, with variables substituted', () => {
    const c = parseConfigText(FULL, { env: ENV });
    expect(c.accounts).toEqual([{ path: 'accounts[0]', id: 'acme', name: null, opening_nano: 100_000_000_000n }]);
    expect(c.groups[0]).toMatchObject({ id: 'resellers', name: 'resellers', price_multiplier_ppm: 1_250_000n, models: ['gpt-4o*'] });
    expect(c.keys[0]).toMatchObject({
      account: 'acme',
      name: 'ci',
      material: ENV.ACME_KEY,
      models: ['*'],
      expires_at: null,
      limits: { group_id: 'resellers', rpm: 600, tpm: 200000, budget_nano_per_day: 20_000_000_000n, budget_nano_per_month: null, route_mode: 'smart', route_preset: 'performance' },
    });
    const ch = c.channels[0]!;
    expect(ch).toMatchObject({ id: 'fast-openai', provider: 'openai', api_key: ENV.FAST_KEY, priority: 1, weight: 1, enabled: true });
    expect(ch.models[0]).toMatchObject({
      model: 'gpt-4o-mini',
      upstream_model: 'gpt-4o-mini-2024-07-18',
      price: { input: 150_000_000n, output: 600_000_000n, cached_input: 75_000_000n, cache_write: null, reasoning: null, request_fee: 0n },
    });
    expect(ch.models[1]).toMatchObject({ model: 'gpt-4o', upstream_model: 'gpt-4o', price: null });
  });

  it('converts prices exactly, with 9 decimals and no float rounding', () => {
    const c = parseConfigData(
      { channels: [{ id: 'c', provider: 'openai', base_url: 'https://x/v1', models: [{ id: 'm', price_usd_per_mtok: { input: '0.1', output: '0.000000001' } }] }] },
      { env: {} },
    );
    expect(c.channels[0]!.models[0]!.price).toMatchObject({ input: 100_000_000n, output: 1n, cached_input: 100_000_000n });
  });

  it('names a missing environment variable and where it is used, instead of substituting an empty string', () => {
    expect(issuesOf(FULL, { FAST_KEY: 'sk-upstream-fast' })).toEqual([{ path: 'keys[0].key', message: 'environment variable ACME_KEY is not set' }]);
  });

  it('keeps $${ as a literal ${ and substitutes several variables in one value', () => {
    const c = parseConfigData({ accounts: [{ id: 'a', name: '$${NOT} ${A}-${B}' }] }, { env: { A: 'x', B: 'y' } });
    expect(c.accounts[0]!.name).toBe('${NOT} x-y');
  });

  it('refuses ${VAR} where substitution is off (the admin API)', () => {
    expect(issuesOf('accounts: [{ id: "${X}" }]', null)[0]).toMatchObject({ path: 'accounts[0].id', message: expect.stringContaining('send the value itself') });
  });

  it('refuses money given as a YAML number, with the path of the field', () => {
    const issues = issuesOf(`
channels:
  - id: c
    provider: openai
    base_url: https://x/v1
    models:
      - id: m
        price_usd_per_mtok: { input: 0.15, output: "0.60" }
`);
    expect(issues).toEqual([{ path: 'channels[0].models[0].price_usd_per_mtok.input', message: expect.stringContaining('decimal USD string in quotes') }]);
  });

  it('refuses negative and over-precise prices with the path', () => {
    const issues = issuesOf(`
channels:
  - id: c
    provider: openai
    base_url: https://x/v1
    models:
      - id: m
      - id: n
        price_usd_per_mtok: { input: "-1", output: "0.0000000001" }
`);
    expect(issues.map((i) => i.path)).toEqual(['channels[0].models[1].price_usd_per_mtok.input', 'channels[0].models[1].price_usd_per_mtok.output']);
    expect(issues[0]!.message).toMatch(/^must be a non-negative decimal USD amount/);
  });

  it('reports an unknown provider, a wrong type, an unknown field and a bad URL together', () => {
    const issues = issuesOf(`
accounts:
  - id: acme
    balance: "1.00"
channels:
  - id: c
    provider: bedrock
    base_url: https://x/v1
    priority: high
    models: [{ id: m }]
`);
    expect(issues).toEqual([
      { path: 'accounts[0]', message: 'unknown field "balance"' },
      { path: 'channels[0].provider', message: expect.stringContaining('must be one of openai, azure-openai') },
      { path: 'channels[0].priority', message: 'must be an integer' },
    ]);
    expect(issuesOf('channels: [{ id: c, provider: openai, base_url: "ftp://x", models: [{ id: m }] }]')).toEqual([
      { path: 'channels[0].base_url', message: 'must be an http(s) URL (got "ftp://x")' },
    ]);
  });

  it('refuses duplicate ids, keys and models, pointing at the second one', () => {
    const issues = issuesOf(`
accounts: [{ id: a }, { id: a }]
keys:
  - { account: a, name: ci }
  - { account: a, name: ci }
channels:
  - { id: c, provider: openai, base_url: "https://x/v1", models: [{ id: m }, { id: m, upstream: other }] }
  - { id: c, provider: openai, base_url: "https://x/v1", models: [{ id: m }] }
`);
    expect(issues).toEqual([
      { path: 'accounts[1].id', message: 'account "a" is declared twice (first at accounts[0].id)' },
      { path: 'keys[1].name', message: 'key "ci" of account "a" is declared twice (first at keys[0].name)' },
      { path: 'channels[0].models[1].id', message: 'model "m" is declared twice (first at channels[0].models[0].id)' },
      { path: 'channels[1].id', message: 'channel "c" is declared twice (first at channels[0].id)' },
    ]);
  });

  it('checks ids, key material and limits with the admin commands\' rules, never echoing key material', () => {
    const issues = issuesOf(`
keys:
  - account: "bad id"
    name: ci
    key: short-secret
    limits: { rpm: 0, budget_usd_per_day: "1.5.0" }
    route: { mode: fastest }
`);
    expect(issues.map((i) => i.path)).toEqual(['keys[0].route.mode']);
    const values = issuesOf(`
keys:
  - account: "bad id"
    name: ci
    key: short-secret
    limits: { rpm: 0, budget_usd_per_day: "1.5.0" }
`);
    expect(values.map((i) => i.path)).toEqual(['keys[0].key', 'keys[0].account', 'keys[0].limits.rpm', 'keys[0].limits.budget_usd_per_day']);
    expect(values[2]!.message).toBe('must be >= 1 (got 0)');
    expect(JSON.stringify(values)).not.toContain('short-secret');
  });

  it('refuses the routing section with a pointer to the ingress settings', () => {
    const issues = issuesOf('routing:\n  default: { mode: smart, preset: stability }\n');
    expect(issues).toEqual([{ path: 'routing', message: expect.stringContaining('INGRESS_RACE_ENABLED') }]);
  });

  it('reports YAML syntax errors and duplicate mapping keys with their line', () => {
    expect(issuesOf('accounts:\n  - id: a\n    id: b\n')[0]!.message).toMatch(/^YAML .*(unique|Map keys).*line 3/);
    expect(issuesOf('accounts: [\n')[0]!.message).toMatch(/^YAML /);
  });

  it('accepts an empty file as nothing to apply', () => {
    expect(parseConfigText('', { env: {} })).toEqual({ accounts: [], groups: [], keys: [], channels: [] });
  });
});
