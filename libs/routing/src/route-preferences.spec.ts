import { describe, expect, it } from 'vitest';
import { DEFAULT_ROUTE_PREFERENCES, formatRouteErrors, keyRouteDefaults, keyRoutePolicy, parseRouteBody, parseRouteHeader, resolveRoutePreferences } from './route-preferences';

const okValue = <T>(r: { ok: true; value: T } | { ok: false; errors: unknown }): T => {
  if (!r.ok) throw new Error(`expected ok, got ${JSON.stringify(r.errors)}`);
  return r.value;
};
const errFields = (r: { ok: boolean; errors?: { field: string }[] }) => (r.ok ? [] : r.errors!.map((e) => e.field));

describe('parseRouteHeader', () => {
  it('accepts a bare mode', () => {
    expect(okValue(parseRouteHeader('race'))).toEqual({ mode: 'race' });
    expect(okValue(parseRouteHeader(' Fallback '))).toEqual({ mode: 'fallback' });
    expect(okValue(parseRouteHeader(undefined))).toEqual({});
    expect(okValue(parseRouteHeader(''))).toEqual({});
  });

  it('accepts the compact key=value form', () => {
    expect(okValue(parseRouteHeader('mode=smart;preset=economy'))).toEqual({ mode: 'smart', preset: 'economy' });
    expect(okValue(parseRouteHeader('smart; weights=cost:0.5,latency:0.3,availability:0.2; hedge=off'))).toEqual({
      mode: 'smart',
      weights: { cost: 0.5, latency: 0.3, availability: 0.2 },
      hedge: false,
    });
    expect(okValue(parseRouteHeader('fallback;order=ch-b,ch-a;fallbacks=off;channels=ch-a,ch-b'))).toEqual({
      mode: 'fallback',
      order: ['ch-b', 'ch-a'],
      allowed_channels: ['ch-a', 'ch-b'],
      allow_fallbacks: false,
    });
    expect(okValue(parseRouteHeader('race=3;mid_stream=on'))).toEqual({ mode: 'race', race_n: 3, mid_stream_failover: true });
  });

  it('turns max_price USD per 1M tokens into exact nano-USD', () => {
    expect(okValue(parseRouteHeader('max_price=input:0.15,output:0.60')).max_price).toEqual({ input_nano_per_mtok: 150_000_000, output_nano_per_mtok: 600_000_000 });
    expect(okValue(parseRouteHeader('max_price=1')).max_price).toEqual({ input_nano_per_mtok: 1_000_000_000, output_nano_per_mtok: 1_000_000_000 });
    expect(okValue(parseRouteHeader('max_price=output:2.5')).max_price).toEqual({ input_nano_per_mtok: null, output_nano_per_mtok: 2_500_000_000 });
  });

  it('names the offending parameter in every error', () => {
    expect(errFields(parseRouteHeader('sideways'))).toEqual(['x-switchyard-route: sideways']);
    expect(errFields(parseRouteHeader('mode=fast'))).toEqual(['x-switchyard-route: mode']);
    expect(errFields(parseRouteHeader('preset=cheap'))).toEqual(['x-switchyard-route: preset']);
    expect(errFields(parseRouteHeader('race=0'))).toEqual(['x-switchyard-route: race']);
    expect(errFields(parseRouteHeader('race=9'))).toEqual(['x-switchyard-route: race']);
    expect(errFields(parseRouteHeader('hedge=maybe'))).toEqual(['x-switchyard-route: hedge']);
    expect(errFields(parseRouteHeader('max_price=-1'))).toEqual(['x-switchyard-route: max_price']);
    expect(errFields(parseRouteHeader('max_price=input:0.0000000001'))).toEqual(['x-switchyard-route: max_price.input']);
    expect(errFields(parseRouteHeader('weights=cost:-1'))).toEqual(['x-switchyard-route: weights.cost']);
    expect(errFields(parseRouteHeader('weights=speed:1'))).toEqual(['x-switchyard-route: weights.speed']);
    expect(errFields(parseRouteHeader('weights=cost:0,latency:0'))).toEqual(['x-switchyard-route: weights.(all)']);
    expect(errFields(parseRouteHeader('channels=a b'))).toEqual(['x-switchyard-route: channels']);
    expect(errFields(parseRouteHeader('colour=blue'))).toEqual(['x-switchyard-route: colour']);
    expect(errFields(parseRouteHeader('smart;race=2'))).toEqual(['x-switchyard-route: race']);
  });

  it('collects every error, not just the first', () => {
    const r = parseRouteHeader('mode=fast;preset=cheap');
    expect(errFields(r)).toHaveLength(2);
    if (!r.ok) expect(formatRouteErrors(r.errors)).toMatch(/mode: must be one of race, fallback, smart; .*preset/);
  });
});

describe('parseRouteBody', () => {
  it('accepts a mode string or a full object', () => {
    expect(okValue(parseRouteBody('race'))).toEqual({ mode: 'race' });
    expect(
      okValue(
        parseRouteBody({
          mode: 'smart',
          preset: 'performance',
          weights: { cost: 1, latency: 2, availability: 1 },
          allowed_channels: ['a', 'b', 'a'],
          order: ['b'],
          max_price: { input: '0.50', output: 1.5 },
          allow_fallbacks: false,
          race: { n: 2 },
          hedge: true,
          mid_stream_failover: true,
        }),
      ),
    ).toEqual({
      mode: 'smart',
      preset: 'performance',
      weights: { cost: 1, latency: 2, availability: 1 },
      allowed_channels: ['a', 'b'],
      order: ['b'],
      max_price: { input_nano_per_mtok: 500_000_000, output_nano_per_mtok: 1_500_000_000 },
      allow_fallbacks: false,
      race_n: 2,
      hedge: true,
      mid_stream_failover: true,
    });
    expect(okValue(parseRouteBody(null))).toEqual({});
    expect(okValue(parseRouteBody({ mode: null }))).toEqual({});
  });

  it('names the offending field', () => {
    expect(errFields(parseRouteBody(42))).toEqual(['route']);
    expect(errFields(parseRouteBody('sideways'))).toEqual(['route']);
    expect(errFields(parseRouteBody({ mode: 3 }))).toEqual(['route.mode']);
    expect(errFields(parseRouteBody({ allowed_channels: [] }))).toEqual(['route.allowed_channels']);
    expect(errFields(parseRouteBody({ order: ['ok', 7] }))).toEqual(['route.order[1]']);
    expect(errFields(parseRouteBody({ max_price: { input: '1e-3' } }))).toEqual(['route.max_price.input']);
    expect(errFields(parseRouteBody({ max_price: { dollars: '1' } }))).toEqual(['route.max_price.dollars']);
    expect(errFields(parseRouteBody({ allow_fallbacks: 'yes' }))).toEqual(['route.allow_fallbacks']);
    expect(errFields(parseRouteBody({ race: { n: 1.5 } }))).toEqual(['route.race.n']);
    expect(errFields(parseRouteBody({ weights: { cost: 'lots' } }))).toEqual(['route.weights.cost']);
    expect(errFields(parseRouteBody({ providers: ['openai'] }))).toEqual(['route.providers']);
  });
});

describe('resolveRoutePreferences', () => {
  it('defaults to smart/performance with fallbacks and hedging on', () => {
    expect(okValue(resolveRoutePreferences({}))).toEqual(DEFAULT_ROUTE_PREFERENCES);
    expect(DEFAULT_ROUTE_PREFERENCES).toMatchObject({ mode: 'smart', preset: 'performance', allow_fallbacks: true, hedge: true });
  });

  it('takes the system defaults it is given (the operator’s INGRESS_ROUTE_MODE / INGRESS_ROUTE_PRESET) under the key and request', () => {
    const defaults = { ...DEFAULT_ROUTE_PREFERENCES, mode: 'fallback' as const, preset: 'economy' as const };
    expect(okValue(resolveRoutePreferences({ defaults }))).toMatchObject({ mode: 'fallback', preset: 'economy' });
    expect(okValue(resolveRoutePreferences({ defaults, key: { defaults: { preset: 'stability' } } }))).toMatchObject({ mode: 'fallback', preset: 'stability' });
    expect(okValue(resolveRoutePreferences({ defaults, header: 'mode=smart' }))).toMatchObject({ mode: 'smart', preset: 'economy' });
  });

  it('layers system ← key defaults ← header ← body', () => {
    const r = okValue(
      resolveRoutePreferences({
        key: { defaults: { mode: 'fallback', preset: 'economy', hedge: false } },
        header: 'mode=race;race=3',
        body: { mode: 'smart' },
      }),
    );
    expect(r).toMatchObject({ mode: 'smart', preset: 'economy', hedge: false, race_n: 3 });
  });

  it("a request's preset replaces the key's custom weights", () => {
    const r = okValue(resolveRoutePreferences({ key: { defaults: { weights: { cost: 1, latency: 0, availability: 0 } } }, header: 'preset=stability' }));
    expect(r.preset).toBe('stability');
    expect(r.weights).toBeNull();
  });

  it('refuses request-level control when the key does not allow it, but still applies key defaults', () => {
    const key = { allow_request_override: false, defaults: { mode: 'fallback' as const } };
    expect(errFields(resolveRoutePreferences({ key, header: 'race' }))).toEqual(['x-switchyard-route']);
    expect(errFields(resolveRoutePreferences({ key, body: { mode: 'race' } }))).toEqual(['route']);
    expect(okValue(resolveRoutePreferences({ key })).mode).toBe('fallback');
  });

  it("keeps requests inside the key's channels, price ceiling and race size", () => {
    const key = {
      allowed_channels: ['a', 'b'],
      max_price: { input_nano_per_mtok: 1_000_000_000, output_nano_per_mtok: null },
      max_race_n: 2,
    };
    expect(okValue(resolveRoutePreferences({ key })).allowed_channels).toEqual(['a', 'b']);
    expect(okValue(resolveRoutePreferences({ key, body: { allowed_channels: ['b'] } })).allowed_channels).toEqual(['b']);
    expect(errFields(resolveRoutePreferences({ key, body: { allowed_channels: ['c'] } }))).toEqual(['route.allowed_channels']);
    expect(errFields(resolveRoutePreferences({ key, body: { order: ['c'] } }))).toEqual(['route.order']);
    expect(okValue(resolveRoutePreferences({ key, body: { max_price: { input: '5', output: '3' } } })).max_price).toEqual({
      input_nano_per_mtok: 1_000_000_000,
      output_nano_per_mtok: 3_000_000_000,
    });
    expect(errFields(resolveRoutePreferences({ key, header: 'race=3' }))).toEqual(['route.race']);
  });

  it('reports header and body errors together', () => {
    expect(errFields(resolveRoutePreferences({ header: 'mode=x', body: { mode: 'y' } }))).toEqual(['x-switchyard-route: mode', 'route.mode']);
  });
});

describe('keyRouteDefaults', () => {
  it("reads the key snapshot's mode and preset and ignores unknown values", () => {
    expect(keyRouteDefaults('Race', 'economy')).toEqual({ mode: 'race', preset: 'economy' });
    expect(keyRouteDefaults('teleport', null)).toEqual({});
    expect(keyRouteDefaults(undefined, undefined)).toEqual({});
  });
});

describe('keyRoutePolicy (per-key routing control from the key snapshot)', () => {
  const policy = keyRoutePolicy({
    route_allowed_channels: ['ch-b', 'ch-c'],
    route_order: ['ch-c', 'ch-a'],
    route_max_input_nano_per_mtok: 1_000_000_000,
    route_max_output_nano_per_mtok: null,
    route_allow_fallbacks: false,
    route_midstream_failover: true,
  });

  it('makes the key settings the defaults: allowed channels, its order (kept inside them), price ceiling, no fallbacks, mid-stream failover', () => {
    const r = resolveRoutePreferences({ key: policy });
    expect(r).toMatchObject({
      ok: true,
      value: {
        allowed_channels: ['ch-b', 'ch-c'],
        order: ['ch-c'],
        max_price: { input_nano_per_mtok: 1_000_000_000, output_nano_per_mtok: null },
        allow_fallbacks: false,
        mid_stream_failover: true,
      },
    });
  });

  it('lets a request narrow the channels and lower the price, never widen or raise them', () => {
    const narrowed = resolveRoutePreferences({ key: policy, body: { allowed_channels: ['ch-c'], max_price: { input: '0.5', output: '2' } } });
    expect(narrowed).toMatchObject({ ok: true, value: { allowed_channels: ['ch-c'], max_price: { input_nano_per_mtok: 500_000_000, output_nano_per_mtok: 2_000_000_000 } } });
    const raised = resolveRoutePreferences({ key: policy, body: { max_price: '5' } });
    expect(raised).toMatchObject({ ok: true, value: { max_price: { input_nano_per_mtok: 1_000_000_000, output_nano_per_mtok: 5_000_000_000 } } });
    const widened = resolveRoutePreferences({ key: policy, header: 'channels=ch-a' });
    expect(widened).toEqual({ ok: false, errors: [{ field: 'route.allowed_channels', message: 'not allowed for this API key: ch-a' }] });
  });

  it('refuses a request that turns fallbacks back on for a key without them', () => {
    expect(resolveRoutePreferences({ key: policy, body: { allow_fallbacks: true } })).toEqual({
      ok: false,
      errors: [{ field: 'route.allow_fallbacks', message: 'this API key does not allow fallbacks' }],
    });
  });

  it('reads x-switchyard-midstream-failover as a request opt-in (or opt-out) and refuses a bad value', () => {
    expect(resolveRoutePreferences({ midstreamHeader: '1' })).toMatchObject({ ok: true, value: { mid_stream_failover: true } });
    expect(resolveRoutePreferences({ key: policy, midstreamHeader: '0' })).toMatchObject({ ok: true, value: { mid_stream_failover: false } });
    expect(resolveRoutePreferences({ midstreamHeader: 'maybe' })).toMatchObject({ ok: false, errors: [{ field: 'x-switchyard-midstream-failover' }] });
  });

  it('is empty for a key without routing settings (older billing replies)', () => {
    expect(keyRoutePolicy({})).toEqual({ defaults: {} });
  });
});
