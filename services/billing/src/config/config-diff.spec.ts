import { describe, expect, it } from 'vitest';
import type { ApiKeyRow } from '../keys/api-keys.table';
import type { PriceRow } from '../channels/prices.table';
import { channelChanges, groupChanges, keyChanges, samePrice } from './config-diff';
import { parseConfigText } from './declarative-config';

const declared = parseConfigText(
  `
groups: [{ id: g, price_multiplier: "1.5", models: ["gpt-4o*"] }]
keys:
  - account: acme
    name: ci
    models: ["gpt-4o*"]
    group: g
    route: { mode: race }
    limits: { rpm: 60, budget_usd_per_day: "2.50" }
channels:
  - id: c
    provider: openai
    base_url: https://x/v1
    api_key: secret
    models:
      - { id: a, price_usd_per_mtok: { input: "1", output: "2" } }
      - { id: b, upstream: b-2024 }
`,
  { env: {} },
);
const key = declared.keys[0]!;
const channel = declared.channels[0]!;

/** The key as stored after the file created it. */
const storedKey: ApiKeyRow = {
  id: 'key_1',
  account_id: 'acme',
  name: 'ci',
  key_hash: '0'.repeat(64),
  key_prefix: 'sk-sy-abcdef',
  models: ['gpt-4o*'],
  revoked_at: null,
  expires_at: null,
  created_at: new Date(0),
  group_id: 'g',
  rpm: 60,
  tpm: null,
  budget_nano_per_day: '2500000000',
  budget_nano_per_month: null,
  route_mode: 'race',
  route_preset: null,
  route_allowed_channels: null,
  route_order: null,
  route_max_input_nano_per_mtok: null,
  route_max_output_nano_per_mtok: null,
  route_allow_fallbacks: null,
  route_midstream_failover: null,
  rotated_at: null,
};

describe('declarative configuration diffing', () => {
  it('a key stored as declared has no changes (a re-apply writes nothing)', () => {
    expect(keyChanges(storedKey, key)).toEqual([]);
  });

  it('names each key field that differs, including limits the file no longer sets', () => {
    expect(keyChanges({ ...storedKey, rpm: 120, tpm: 1000, budget_nano_per_day: '2500000001', route_preset: 'economy', models: ['*'] }, key)).toEqual([
      'models',
      'limits.rpm',
      'limits.tpm',
      'limits.budget_usd_per_day',
      'route.preset',
    ]);
  });

  it('groups compare name, exact multiplier and models', () => {
    const g = declared.groups[0]!;
    expect(groupChanges({ name: 'g', price_multiplier_ppm: '1500000', models: ['gpt-4o*'] }, g)).toEqual([]);
    expect(groupChanges({ name: 'G', price_multiplier_ppm: '1500001', models: ['*'] }, g)).toEqual(['name', 'price_multiplier', 'models']);
  });

  it('channels compare fields, the model list in any order, and the credential only when the file gives one', () => {
    const stored = { id: 'c', provider: 'openai' as const, base_url: 'https://x/v1', priority: 0, weight: 1, enabled: true, credential_type: 'api_key' as const, settings: {} };
    const models = [
      { model: 'b', upstream_model: 'b-2024' },
      { model: 'a', upstream_model: 'a' },
    ];
    expect(channelChanges(stored, models, channel, () => true)).toEqual([]);
    expect(channelChanges({ ...stored, weight: 3 }, models.slice(1), channel, () => false)).toEqual(['weight', 'api_key', 'models']);
    expect(channelChanges(stored, [{ model: 'a', upstream_model: 'a' }, { model: 'b', upstream_model: 'b' }], channel, () => true)).toEqual(['models']);
    let asked = false;
    expect(channelChanges(stored, models, { ...channel, api_key: null }, () => ((asked = true), false))).toEqual([]);
    expect(asked).toBe(false);
  });

  it('a price is the same only when every component matches the one in force', () => {
    const p = channel.models[0]!.price!;
    const row: PriceRow = {
      id: '1',
      channel_id: 'c',
      model: 'a',
      input_nano_per_mtok: '1000000000',
      output_nano_per_mtok: '2000000000',
      cached_input_nano_per_mtok: '1000000000',
      cache_write_nano_per_mtok: null,
      reasoning_nano_per_mtok: null,
      request_fee_nano: '0',
      effective_from: new Date(0),
    };
    expect(samePrice(row, p)).toBe(true);
    expect(samePrice(undefined, p)).toBe(false);
    expect(samePrice({ ...row, output_nano_per_mtok: '2000000001' }, p)).toBe(false);
    // An explicit cache-write rate equal to the input rate is still a different declaration than the default.
    expect(samePrice({ ...row, cache_write_nano_per_mtok: '1000000000' }, p)).toBe(false);
    expect(samePrice({ ...row, request_fee_nano: '1' }, p)).toBe(false);
  });
});
