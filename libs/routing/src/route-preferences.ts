import { usdToNano } from '@switchyard/pricing';
import { WEIGHT_PRESETS, validWeights, type ScoringWeights, type WeightPreset } from './scoring';

export type RouteMode = 'race' | 'fallback' | 'smart';
export const ROUTE_MODES: readonly RouteMode[] = ['race', 'fallback', 'smart'];

/** Price ceilings in integer nano-USD per 1M tokens; null = no ceiling on that side. */
export interface MaxPrice {
  input_nano_per_mtok: number | null;
  output_nano_per_mtok: number | null;
}

/** The routing control in force for one request, after merging. */
export interface RoutePreferences {
  mode: RouteMode;
  preset: WeightPreset;
  /** Custom weights; override the preset when set. */
  weights: ScoringWeights | null;
  /** Only these channels may serve the request (null = all). */
  allowed_channels: string[] | null;
  /** These channels lead, in this order, ahead of the mode's own order. */
  order: string[] | null;
  max_price: MaxPrice | null;
  /** false: one channel only, no fallback or hedge. */
  allow_fallbacks: boolean;
  /** race: how many channels start at once. */
  race_n: number;
  /** smart: start the next best when the first has no first byte by its p95 TTFT. */
  hedge: boolean;
  /** Continue a broken stream on the next channel with the partial answer as prefix. */
  mid_stream_failover: boolean;
}

export type RoutePreferencesPatch = Partial<RoutePreferences>;

export const DEFAULT_ROUTE_PREFERENCES: Readonly<RoutePreferences> = Object.freeze({
  mode: 'smart',
  // Latency and availability first, price as the tie-break: a request that says nothing gets the
  // fastest healthy channel (within 15% of a race's latency at ~1 upstream call). Keys or requests
  // that put price first ask for `economy` or `balanced`; operators change it with INGRESS_ROUTE_PRESET.
  preset: 'performance',
  weights: null,
  allowed_channels: null,
  order: null,
  max_price: null,
  allow_fallbacks: true,
  race_n: 2,
  hedge: true,
  mid_stream_failover: false,
});

export interface RouteValidationError {
  /** Where: "x-switchyard-route: race", "route.max_price.input", "route.weights.cost". */
  field: string;
  message: string;
}

export type RouteParse<T> = { ok: true; value: T } | { ok: false; errors: RouteValidationError[] };

/** What a key says about routing: its defaults, and how far a request may deviate. */
export interface KeyRoutePolicy {
  defaults?: RoutePreferencesPatch;
  /** false: requests may not choose their routing (header/body route is refused). Default true. */
  allow_request_override?: boolean;
  /** Hard limit: requests can narrow this set, never widen it. */
  allowed_channels?: string[] | null;
  /** Hard ceiling: a request's own max price is lowered to this. */
  max_price?: MaxPrice | null;
  /** Largest race the key may ask for. */
  max_race_n?: number;
  /** Hard limit: false = no fallback for this key, and a request cannot turn it on. */
  allow_fallbacks?: boolean;
}

export const ROUTE_HEADER = 'x-switchyard-route';
/** Shorthand for `x-switchyard-route: mid_stream=on|off`: `1`/`0`, on/off, true/false, yes/no. */
export const MIDSTREAM_FAILOVER_HEADER = 'x-switchyard-midstream-failover';
export const MAX_RACE_N = 8;
const CHANNEL_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const PRESETS = Object.keys(WEIGHT_PRESETS) as WeightPreset[];

/**
 * Parses `x-switchyard-route`. Grammar (case-insensitive keys and words,
 * whitespace ignored):
 *
 *   value  = param *( ";" param )
 *   param  = mode | key "=" val
 *   mode   = "race" | "fallback" | "smart"
 *   keys   = mode | preset | weights | channels | order | max_price | fallbacks | race | hedge | mid_stream
 *
 *   race                                       mode only
 *   mode=smart;preset=economy
 *   smart;weights=cost:0.5,latency:0.3,availability:0.2
 *   fallback;order=ch-b,ch-a;fallbacks=off
 *   race=3                                     race mode with 3 channels at once
 *   max_price=input:0.50,output:1.50           USD per 1M tokens; "max_price=1.00" caps both
 *   hedge=off   mid_stream=on   channels=ch-a,ch-b
 *
 * Booleans: on/off, true/false, 1/0, yes/no. Unknown keys are errors, so a
 * typo is never silently ignored.
 */
export function parseRouteHeader(value: string | undefined | null): RouteParse<RoutePreferencesPatch> {
  const patch: RoutePreferencesPatch = {};
  const errors: RouteValidationError[] = [];
  if (value === undefined || value === null || value.trim() === '') return { ok: true, value: patch };
  const err = (key: string, message: string): void => void errors.push({ field: `${ROUTE_HEADER}: ${key}`, message });
  for (const rawPart of value.split(';')) {
    const part = rawPart.trim();
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    const val = eq < 0 ? null : part.slice(eq + 1).trim();
    if (val === null) {
      if (isMode(key)) setOnce(patch, 'mode', key, errors, `${ROUTE_HEADER}: ${key}`);
      else err(key, `unknown routing mode or parameter; modes are ${ROUTE_MODES.join(', ')}`);
      continue;
    }
    switch (key) {
      case 'mode': {
        const m = val.toLowerCase();
        if (isMode(m)) setOnce(patch, 'mode', m, errors, `${ROUTE_HEADER}: mode`);
        else err('mode', `must be one of ${ROUTE_MODES.join(', ')}`);
        break;
      }
      case 'preset': {
        const p = val.toLowerCase();
        if (isPreset(p)) patch.preset = p;
        else err('preset', `must be one of ${PRESETS.join(', ')}`);
        break;
      }
      case 'weights': {
        const w = parsePairs(val);
        if (!w) {
          err('weights', 'expected cost:<n>,latency:<n>,availability:<n>');
          break;
        }
        const weights = toWeights(w, (f, m) => err(`weights.${f}`, m));
        if (weights) patch.weights = weights;
        break;
      }
      case 'channels':
      case 'order': {
        const ids = splitList(val);
        const bad = ids.find((id) => !CHANNEL_ID.test(id));
        if (ids.length === 0 || bad !== undefined) err(key, bad !== undefined ? `"${bad}" is not a channel id` : 'expected a comma-separated list of channel ids');
        else if (key === 'channels') patch.allowed_channels = dedupe(ids);
        else patch.order = dedupe(ids);
        break;
      }
      case 'max_price': {
        if (!val.includes(':')) {
          const nano = usdPerMtok(val, (m) => err('max_price', m));
          if (nano !== null) patch.max_price = { input_nano_per_mtok: nano, output_nano_per_mtok: nano };
          break;
        }
        const pairs = parsePairs(val);
        if (!pairs) {
          err('max_price', 'expected input:<usd>,output:<usd> or one USD amount');
          break;
        }
        const mp = toMaxPrice(pairs, (f, m) => err(`max_price.${f}`, m));
        if (mp) patch.max_price = mp;
        break;
      }
      case 'fallbacks':
      case 'hedge':
      case 'mid_stream': {
        const b = parseBool(val);
        if (b === null) err(key, 'must be on or off');
        else if (key === 'fallbacks') patch.allow_fallbacks = b;
        else if (key === 'hedge') patch.hedge = b;
        else patch.mid_stream_failover = b;
        break;
      }
      case 'race': {
        const n = parseRaceN(val);
        if (n === null) err('race', `must be an integer from 1 to ${MAX_RACE_N}`);
        else {
          patch.race_n = n;
          setOnce(patch, 'mode', 'race', errors, `${ROUTE_HEADER}: race`);
        }
        break;
      }
      default:
        err(key, 'unknown parameter; known: mode, preset, weights, channels, order, max_price, fallbacks, race, hedge, mid_stream');
    }
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value: patch };
}

/**
 * Parses the body's `route` field: a mode string ("race") or an object
 *
 *   { "mode": "smart", "preset": "economy",
 *     "weights": { "cost": 0.5, "latency": 0.3, "availability": 0.2 },
 *     "allowed_channels": ["ch-a", "ch-b"], "order": ["ch-b"],
 *     "max_price": { "input": "0.50", "output": "1.50" },   // USD per 1M tokens
 *     "allow_fallbacks": true, "race": 3, "hedge": false, "mid_stream_failover": true }
 *
 * Every field is optional; unknown fields are errors.
 */
export function parseRouteBody(route: unknown): RouteParse<RoutePreferencesPatch> {
  if (route === undefined || route === null) return { ok: true, value: {} };
  if (typeof route === 'string') {
    const m = route.trim().toLowerCase();
    return isMode(m) ? { ok: true, value: { mode: m } } : { ok: false, errors: [{ field: 'route', message: `must be one of ${ROUTE_MODES.join(', ')} or an object` }] };
  }
  if (!isRecord(route)) return { ok: false, errors: [{ field: 'route', message: 'must be a mode string or an object' }] };
  const patch: RoutePreferencesPatch = {};
  const errors: RouteValidationError[] = [];
  const err = (field: string, message: string): void => void errors.push({ field: `route.${field}`, message });
  for (const [k, v] of Object.entries(route)) {
    if (v === undefined || v === null) continue;
    switch (k) {
      case 'mode':
        if (typeof v === 'string' && isMode(v.toLowerCase())) patch.mode = v.toLowerCase() as RouteMode;
        else err(k, `must be one of ${ROUTE_MODES.join(', ')}`);
        break;
      case 'preset':
        if (typeof v === 'string' && isPreset(v.toLowerCase())) patch.preset = v.toLowerCase() as WeightPreset;
        else err(k, `must be one of ${PRESETS.join(', ')}`);
        break;
      case 'weights': {
        if (!isRecord(v)) {
          err(k, 'must be an object { cost, latency, availability }');
          break;
        }
        const w = toWeights(v, (f, m) => err(`weights.${f}`, m));
        if (w) patch.weights = w;
        break;
      }
      case 'allowed_channels':
      case 'order': {
        if (!Array.isArray(v) || v.length === 0 || v.length > 64) {
          err(k, 'must be a non-empty array of channel ids (at most 64)');
          break;
        }
        const bad = v.findIndex((id) => typeof id !== 'string' || !CHANNEL_ID.test(id));
        if (bad >= 0) {
          err(`${k}[${bad}]`, 'is not a channel id');
          break;
        }
        if (k === 'order') patch.order = dedupe(v as string[]);
        else patch.allowed_channels = dedupe(v as string[]);
        break;
      }
      case 'max_price': {
        if (typeof v === 'string' || typeof v === 'number') {
          const nano = usdPerMtok(v, (m) => err(k, m));
          if (nano !== null) patch.max_price = { input_nano_per_mtok: nano, output_nano_per_mtok: nano };
          break;
        }
        if (!isRecord(v)) {
          err(k, 'must be { "input": "<usd>", "output": "<usd>" } (USD per 1M tokens)');
          break;
        }
        const mp = toMaxPrice(v, (f, m) => err(`max_price.${f}`, m));
        if (mp) patch.max_price = mp;
        break;
      }
      case 'allow_fallbacks':
      case 'hedge':
      case 'mid_stream_failover':
        if (typeof v !== 'boolean') err(k, 'must be true or false');
        else patch[k] = v;
        break;
      case 'race': {
        const n = typeof v === 'number' ? v : isRecord(v) ? v['n'] : undefined;
        if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_RACE_N) err(isRecord(v) ? 'race.n' : k, `must be an integer from 1 to ${MAX_RACE_N}`);
        else patch.race_n = n;
        break;
      }
      default:
        err(k, 'unknown field; known: mode, preset, weights, allowed_channels, order, max_price, allow_fallbacks, race, hedge, mid_stream_failover');
    }
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value: patch };
}

/**
 * Merges system defaults ← key defaults ← header ← body (later wins, field by
 * field), then applies the key's hard limits: a key without
 * `allow_request_override` refuses any request-level control; requested
 * channels must lie inside the key's allowed set (narrowing only); the
 * request's max price is lowered to the key's; race N is bounded by the
 * key's `max_race_n`.
 */
export function resolveRoutePreferences(input: {
  defaults?: Readonly<RoutePreferences>;
  key?: KeyRoutePolicy;
  header?: string | null;
  /** The `x-switchyard-midstream-failover` header, if sent. */
  midstreamHeader?: string | null;
  body?: unknown;
}): RouteParse<RoutePreferences> {
  const header = parseRouteHeader(input.header);
  if (header.ok && input.midstreamHeader !== undefined && input.midstreamHeader !== null) {
    const b = parseBool(input.midstreamHeader.trim());
    if (b === null) return { ok: false, errors: [{ field: MIDSTREAM_FAILOVER_HEADER, message: 'must be 1 or 0 (on/off)' }] };
    header.value.mid_stream_failover ??= b;
  }
  const body = parseRouteBody(input.body);
  const errors = [...(header.ok ? [] : header.errors), ...(body.ok ? [] : body.errors)];
  if (!header.ok || !body.ok) return { ok: false, errors };
  const key = input.key ?? {};
  const requested = { ...header.value, ...body.value };
  if (key.allow_request_override === false && Object.keys(requested).length > 0) {
    const field = Object.keys(body.value).length > 0 ? 'route' : ROUTE_HEADER;
    return { ok: false, errors: [{ field, message: 'this API key does not allow per-request routing control' }] };
  }
  const merged: RoutePreferences = { ...(input.defaults ?? DEFAULT_ROUTE_PREFERENCES), ...(key.defaults ?? {}), ...requested };
  // A request that names a new preset means it, even when the key has custom weights.
  if (requested.preset !== undefined && requested.weights === undefined) merged.weights = null;

  const keyAllowed = key.allowed_channels ?? null;
  if (keyAllowed) {
    const set = new Set(keyAllowed);
    for (const [field, list] of [
      ['allowed_channels', requested.allowed_channels],
      ['order', requested.order],
    ] as const) {
      const outside = (list ?? []).filter((id) => !set.has(id));
      if (outside.length > 0) errors.push({ field: `route.${field}`, message: `not allowed for this API key: ${outside.join(', ')}` });
    }
    merged.allowed_channels = merged.allowed_channels ? merged.allowed_channels.filter((id) => set.has(id)) : [...keyAllowed];
  }
  if (key.max_price) merged.max_price = tighterPrice(merged.max_price, key.max_price);
  if (key.allow_fallbacks === false) {
    if (requested.allow_fallbacks === true) errors.push({ field: 'route.allow_fallbacks', message: 'this API key does not allow fallbacks' });
    merged.allow_fallbacks = false;
  }
  const maxRace = Math.min(MAX_RACE_N, key.max_race_n ?? MAX_RACE_N);
  if (requested.race_n !== undefined && requested.race_n > maxRace) {
    errors.push({ field: 'route.race', message: `this API key allows at most ${maxRace} channels at once` });
  }
  merged.race_n = Math.max(1, Math.min(merged.race_n, maxRace));
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value: merged };
}

/** Formats validation errors as one line for an error body. */
export function formatRouteErrors(errors: readonly RouteValidationError[]): string {
  return errors.map((e) => `${e.field}: ${e.message}`).join('; ');
}

function tighterPrice(a: MaxPrice | null, b: MaxPrice): MaxPrice {
  const min = (x: number | null | undefined, y: number | null): number | null => (x === null || x === undefined ? y : y === null ? x : Math.min(x, y));
  return { input_nano_per_mtok: min(a?.input_nano_per_mtok, b.input_nano_per_mtok), output_nano_per_mtok: min(a?.output_nano_per_mtok, b.output_nano_per_mtok) };
}

function setOnce(patch: RoutePreferencesPatch, field: 'mode', value: RouteMode, errors: RouteValidationError[], where: string): void {
  if (patch.mode !== undefined && patch.mode !== value) errors.push({ field: where, message: `conflicts with mode ${patch.mode}` });
  else patch[field] = value;
}

function toWeights(src: Record<string, unknown>, err: (field: string, message: string) => void): ScoringWeights | null {
  const out: ScoringWeights = { cost: 0, latency: 0, availability: 0 };
  let ok = true;
  for (const [k, v] of Object.entries(src)) {
    if (k !== 'cost' && k !== 'latency' && k !== 'availability') {
      err(k, 'unknown weight; use cost, latency, availability');
      ok = false;
      continue;
    }
    const n = typeof v === 'string' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isFinite(n) || n < 0 || (typeof v === 'string' && v.trim() === '')) {
      err(k, 'must be a non-negative number');
      ok = false;
      continue;
    }
    out[k] = n;
  }
  if (ok && !validWeights(out)) {
    err('(all)', 'at least one weight must be above 0');
    ok = false;
  }
  return ok ? out : null;
}

function toMaxPrice(src: Record<string, unknown>, err: (field: string, message: string) => void): MaxPrice | null {
  const out: MaxPrice = { input_nano_per_mtok: null, output_nano_per_mtok: null };
  let ok = true;
  for (const [k, v] of Object.entries(src)) {
    const side = k === 'input' || k === 'prompt' ? 'input_nano_per_mtok' : k === 'output' || k === 'completion' ? 'output_nano_per_mtok' : null;
    if (side === null) {
      err(k, 'unknown side; use input, output');
      ok = false;
      continue;
    }
    if (typeof v !== 'string' && typeof v !== 'number') {
      err(k, 'must be a decimal USD amount per 1M tokens, e.g. "0.50"');
      ok = false;
      continue;
    }
    const nano = usdPerMtok(v, (m) => err(k, m));
    if (nano === null) ok = false;
    else out[side] = nano;
  }
  if (ok && out.input_nano_per_mtok === null && out.output_nano_per_mtok === null) {
    err('(all)', 'give input and/or output');
    ok = false;
  }
  return ok ? out : null;
}

/** A decimal USD string (per 1M tokens) to integer nano-USD, exactly. */
function usdPerMtok(v: string | number, err: (message: string) => void): number | null {
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : 'x') : v;
  try {
    const nano = usdToNano(s);
    if (nano > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError('too large');
    return Number(nano);
  } catch {
    err('must be a non-negative decimal USD amount per 1M tokens with at most 9 decimals, e.g. "0.50"');
    return null;
  }
}

function parsePairs(val: string): Record<string, string> | null {
  const out: Record<string, string> = {};
  for (const p of val.split(',')) {
    const [k, v, extra] = p.split(':').map((x) => x.trim());
    if (!k || v === undefined || extra !== undefined) return null;
    out[k.toLowerCase()] = v;
  }
  return out;
}

function parseBool(v: string): boolean | null {
  const s = v.toLowerCase();
  if (s === 'on' || s === 'true' || s === '1' || s === 'yes') return true;
  if (s === 'off' || s === 'false' || s === '0' || s === 'no') return false;
  return null;
}

function parseRaceN(v: string): number | null {
  if (!/^\d+$/.test(v)) return null;
  const n = Number(v);
  return n >= 1 && n <= MAX_RACE_N ? n : null;
}

function splitList(v: string): string[] {
  return v
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');
}

function dedupe(xs: readonly string[]): string[] {
  return [...new Set(xs)];
}

function isMode(v: string): v is RouteMode {
  return (ROUTE_MODES as readonly string[]).includes(v);
}

function isPreset(v: string): v is WeightPreset {
  return (PRESETS as readonly string[]).includes(v);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Key defaults from a key snapshot's `route_mode` / `route_preset` strings;
 * unknown values are ignored (the system default applies) rather than
 * failing every request of that key.
 */
export function keyRouteDefaults(routeMode?: string | null, routePreset?: string | null): RoutePreferencesPatch {
  const patch: RoutePreferencesPatch = {};
  const m = routeMode?.trim().toLowerCase();
  const p = routePreset?.trim().toLowerCase();
  if (m && isMode(m)) patch.mode = m;
  if (p && isPreset(p)) patch.preset = p;
  return patch;
}

/** The per-key routing fields of a key snapshot (all optional; null = no setting). */
export interface KeyRouteFields {
  route_mode?: string | null;
  route_preset?: string | null;
  route_allowed_channels?: readonly string[] | null;
  route_order?: readonly string[] | null;
  route_max_input_nano_per_mtok?: number | null;
  route_max_output_nano_per_mtok?: number | null;
  route_allow_fallbacks?: boolean | null;
  route_midstream_failover?: boolean | null;
}

/**
 * A key snapshot's routing fields as a policy: mode, preset, order and
 * mid-stream failover are defaults a request may change; allowed channels,
 * the price ceilings and `allow_fallbacks: false` are hard limits a request
 * may only narrow. The key's order is kept to its allowed channels.
 */
export function keyRoutePolicy(k: KeyRouteFields): KeyRoutePolicy {
  const defaults = keyRouteDefaults(k.route_mode, k.route_preset);
  const allowed = k.route_allowed_channels && k.route_allowed_channels.length > 0 ? [...k.route_allowed_channels] : null;
  if (k.route_order && k.route_order.length > 0) {
    const order = allowed ? k.route_order.filter((id) => allowed.includes(id)) : [...k.route_order];
    if (order.length > 0) defaults.order = order;
  }
  if (k.route_midstream_failover === true) defaults.mid_stream_failover = true;
  const policy: KeyRoutePolicy = { defaults };
  if (allowed) policy.allowed_channels = allowed;
  const inMax = k.route_max_input_nano_per_mtok ?? null;
  const outMax = k.route_max_output_nano_per_mtok ?? null;
  if (inMax !== null || outMax !== null) policy.max_price = { input_nano_per_mtok: inMax, output_nano_per_mtok: outMax };
  if (k.route_allow_fallbacks === false) policy.allow_fallbacks = false;
  return policy;
}
