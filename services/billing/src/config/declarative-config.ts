import { parseDocument } from 'yaml';
import { z } from 'zod';
import { providerSchema, type Provider } from '@switchyard/contracts';
import { ROUTE_MODES, WEIGHT_PRESETS } from '@switchyard/routing';
import { AdminInputError, checkId, parseInteger, parseModelSpec, parseTime, parseUsd } from '../admin.commands';
import { checkApiKeyMaterial, parseModelGlobs } from '../keys/api-key';
import { parseMultiplier } from '../ledger/authoritative-cost';
import type { KeyLimitColumns } from '../admin.commands';
import { checkChannelSettings, checkOAuthCredential, type ChannelSettings } from '../channels/channel-credential';

/**
 * The operator's declarative file (DESIGN.md "Declarative configuration"):
 * YAML → `${VAR}` substitution → zod shape → the same value checks as the
 * admin commands → a normalized, exact (nano-USD, ppm) plan that
 * `applyConfig` writes. Plain functions: no database, no I/O.
 *
 * To declare a new admin field: add it to the zod schema below, to the
 * Declared* type, and map it in `normalize` (the admin validator it needs
 * takes the YAML path as its flag name, so errors point into the file).
 */

export interface ConfigIssue {
  /** Where in the file: `channels[1].models[0].price_usd_per_mtok.input`; '' for the whole file. */
  path: string;
  message: string;
}

/** A file that cannot be applied; nothing was written. Extends AdminInputError: CLI exit 2, HTTP 400. */
export class ConfigError extends AdminInputError {
  override readonly name = 'ConfigError';
  constructor(
    readonly issues: ConfigIssue[],
    source = 'configuration',
  ) {
    const lines = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message));
    // One problem on one line; several, one per line.
    super(`invalid ${source}:${lines.length === 1 ? ` ${lines[0]}` : lines.map((l) => `\n  ${l}`).join('')}`);
  }
}

// ------------------------------------------------------------------ the file's shape

const MONEY_HINT = 'must be a decimal USD string in quotes, e.g. "0.15" (a YAML number could be a float)';
/** Money is a string: a YAML/JSON number is refused, as in the admin API. */
const money = z.string({ error: (iss) => (iss.input === undefined ? 'is required' : MONEY_HINT) });
/** An integer, or a string of one (what `${VAR}` gives). */
const INTEGER = 'must be an integer';
const integer = z.union([z.number({ error: INTEGER }).int(INTEGER), z.string({ error: INTEGER }).regex(/^\s*-?\d+\s*$/, INTEGER)], { error: INTEGER });
const text = z.string({ error: (iss) => (iss.input === undefined ? 'is required' : 'must be a string') });

const accountSchema = z.strictObject({
  id: text,
  name: text.optional(),
  /** Opening balance: booked once, when the account is created. */
  balance_usd: money.optional(),
});

const groupSchema = z.strictObject({
  id: text,
  name: text.optional(),
  /** Decimal multiplier with at most 6 decimals ("1.25"); default 1. */
  price_multiplier: z.string({ error: 'must be a decimal string in quotes, e.g. "1.25"' }).optional(),
  models: z.array(text).optional(),
});

const keySchema = z.strictObject({
  account: text,
  name: text,
  /** Fixed key material (usually `${VAR}`); absent: generated once, on creation. */
  key: text.optional(),
  models: z.array(text).optional(),
  group: text.optional(),
  expires_at: text.optional(),
  route: z
    .strictObject({
      mode: z.enum(ROUTE_MODES as [string, ...string[]]).optional(),
      preset: z.enum(Object.keys(WEIGHT_PRESETS) as [string, ...string[]]).optional(),
      /** Channel ids the key may use (none: all); `order` within them; price ceilings; fallbacks; mid-stream failover. */
      channels: z.array(text).optional(),
      order: z.array(text).optional(),
      max_input_usd_per_mtok: money.optional(),
      max_output_usd_per_mtok: money.optional(),
      fallbacks: z.boolean({ error: 'must be true or false' }).optional(),
      midstream_failover: z.boolean({ error: 'must be true or false' }).optional(),
    })
    .optional(),
  limits: z
    .strictObject({
      rpm: integer.optional(),
      tpm: integer.optional(),
      budget_usd_per_day: money.optional(),
      budget_usd_per_month: money.optional(),
    })
    .optional(),
});

const channelModelSchema = z.strictObject({
  /** The public model id clients send. */
  id: text,
  /** The id sent upstream; default: the same. */
  upstream: text.optional(),
  price_usd_per_mtok: z
    .strictObject({
      input: money,
      output: money,
      /** Default: the input price. */
      cached_input: money.optional(),
      /** Default: the input price. */
      cache_write: money.optional(),
      /** Default: the output price. */
      reasoning: money.optional(),
    })
    .optional(),
  request_fee_usd: money.optional(),
});

const channelSchema = z.strictObject({
  id: text,
  provider: z.enum(providerSchema.options, { error: `must be one of ${providerSchema.options.join(', ')}` }),
  base_url: text,
  /** Upstream credential (usually `${VAR}`); absent keeps the stored one. */
  api_key: text.optional(),
  /** An OAuth refresh-token grant instead of a static key (values usually `${VAR}`). */
  oauth: z
    .strictObject({
      client_id: text,
      client_secret: text,
      token_url: text,
      refresh_token: text,
      scope: text.optional(),
      client_auth: z.enum(['basic', 'post']).optional(),
    })
    .optional(),
  /** Azure OpenAI's `api-version` (azure-openai channels only, required there). */
  api_version: text.optional(),
  priority: integer.optional(),
  weight: integer.optional(),
  enabled: z.boolean({ error: 'must be true or false' }).optional(),
  models: z.array(channelModelSchema).min(1, 'must list at least one model'),
});

export const ROUTING_REFUSED =
  'system-wide routing defaults are ingress settings that billing does not store, so apply refuses them rather than ignore them: ' +
  'set INGRESS_ROUTE_MODE, INGRESS_ROUTE_PRESET, INGRESS_RACE_ENABLED, INGRESS_RACE_MAX_PARALLEL and INGRESS_RACE_TIMEOUT_MS on ingress (Helm: services.ingress.env); ' +
  'the built-in default route is mode smart, preset performance; per-key defaults go in keys[].route';

export const configFileSchema = z.strictObject({
  accounts: z.array(accountSchema).optional(),
  groups: z.array(groupSchema).optional(),
  keys: z.array(keySchema).optional(),
  channels: z.array(channelSchema).optional(),
  routing: z.unknown().optional(),
});
export type ConfigFile = z.infer<typeof configFileSchema>;

// ------------------------------------------------------------------ the normalized plan

export interface DeclaredAccount {
  path: string;
  id: string;
  /** Absent: the id (on creation); an existing name is kept. */
  name: string | null;
  /** Booked as the `opening:<id>` top-up when the account is created; never afterwards. */
  opening_nano: bigint | null;
}

export interface DeclaredGroup {
  path: string;
  id: string;
  name: string;
  price_multiplier_ppm: bigint;
  models: string[];
}

export interface DeclaredKey {
  path: string;
  account: string;
  name: string;
  /** Fixed material; null: generated on creation, kept afterwards. */
  material: string | null;
  models: string[];
  expires_at: Date | null;
  /** Every limit column, null where the file sets none (the file is the whole truth for the keys it names). */
  limits: Required<KeyLimitColumns>;
}

export interface DeclaredPrice {
  input: bigint;
  output: bigint;
  cached_input: bigint;
  cache_write: bigint | null;
  reasoning: bigint | null;
  request_fee: bigint;
}

export interface DeclaredChannel {
  path: string;
  id: string;
  provider: Provider;
  base_url: string;
  /** Plaintext upstream credential (an OAuth grant as JSON); null: keep the stored one. */
  api_key: string | null;
  credential_type: 'api_key' | 'oauth';
  settings: ChannelSettings;
  priority: number;
  weight: number;
  enabled: boolean;
  models: Array<{ path: string; model: string; upstream_model: string; price: DeclaredPrice | null }>;
}

export interface DeclaredConfig {
  accounts: DeclaredAccount[];
  groups: DeclaredGroup[];
  keys: DeclaredKey[];
  channels: DeclaredChannel[];
}

// ------------------------------------------------------------------ parsing

export type Env = Record<string, string | undefined>;

export interface ParseOptions {
  /** Where `${VAR}` values come from; null: substitution is refused (the admin API: no reading billing's own env). */
  env: Env | null;
  /** For messages: the file name. */
  source?: string;
}

/** `channels`, 1, `models` → `channels[1].models`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out;
}

const VAR = /\$\$\{|\$\{([^}]*)\}/g;
const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Replaces `${NAME}` in every string value with the environment's value; an
 * unset variable is an issue naming it (never an empty string). `$${` is a
 * literal `${`. Keys of mappings are not substituted.
 */
export function substituteEnv(value: unknown, env: Env | null, issues: ConfigIssue[], path: PropertyKey[] = []): unknown {
  if (typeof value === 'string') {
    return value.replace(VAR, (whole, name: string | undefined) => {
      if (whole === '$${') return '${';
      const at = formatPath(path);
      if (env === null) {
        issues.push({ path: at, message: `\${${name}} is substituted only in files applied by the CLI or SWITCHYARD_CONFIG; send the value itself` });
        return whole;
      }
      if (name === undefined || !VAR_NAME.test(name)) {
        issues.push({ path: at, message: `"${whole}" is not a variable reference (\${NAME}: letters, digits and _; write $\${ for a literal \${)` });
        return whole;
      }
      const v = env[name];
      if (v === undefined) {
        issues.push({ path: at, message: `environment variable ${name} is not set` });
        return whole;
      }
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, issues, [...path, i]));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteEnv(v, env, issues, [...path, k])]));
  }
  return value;
}

/** YAML text → plain data; syntax errors and duplicate keys are issues with line and column. */
export function parseYaml(text: string): unknown {
  const doc = parseDocument(text, { version: '1.2', schema: 'core', uniqueKeys: true, prettyErrors: true, merge: false });
  const errors = [...doc.errors, ...doc.warnings];
  if (errors.length > 0) {
    throw new ConfigError(errors.map((e) => ({ path: '', message: `YAML ${e.message.split('\n')[0]}` })));
  }
  return doc.toJS({ maxAliasCount: 100 }) ?? {};
}

/** Parses and checks a YAML file's text; throws ConfigError listing every problem found. */
export function parseConfigText(text: string, opts: ParseOptions): DeclaredConfig {
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(e.issues, opts.source);
    throw e;
  }
  return parseConfigData(data, opts);
}

/** Checks already-parsed data (the YAML's or a JSON body's); throws ConfigError listing every problem found. */
export function parseConfigData(data: unknown, opts: ParseOptions): DeclaredConfig {
  const issues: ConfigIssue[] = [];
  const substituted = substituteEnv(data, opts.env, issues);
  const parsed = configFileSchema.safeParse(substituted);
  if (!parsed.success) {
    for (const i of parsed.error.issues) {
      const message =
        i.code === 'unrecognized_keys' ? `unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}` : i.message;
      issues.push({ path: formatPath(i.path), message });
    }
  }
  if (issues.length > 0) throw new ConfigError(dedupe(issues), opts.source);
  const config = normalize(parsed.data!, issues);
  if (issues.length > 0) throw new ConfigError(dedupe(issues), opts.source);
  return config;
}

function dedupe(issues: ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = `${i.path}\0${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * Runs an admin validator with the YAML path as its flag name and turns its
 * AdminInputError into an issue at that path ("path must be …" → "path: must be …").
 */
function check<T>(issues: ConfigIssue[], path: string, fn: (flag: string) => T): T | undefined {
  try {
    return fn(path);
  } catch (e) {
    if (!(e instanceof AdminInputError)) throw e;
    let message = e.message.replace(/^--[a-z-]+:? /, '');
    if (message.startsWith(`${path} `)) message = message.slice(path.length + 1);
    else if (message.startsWith(`${path}: `)) message = message.slice(path.length + 2);
    issues.push({ path, message });
    return undefined;
  }
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MAX_RATE = 1_000_000_000;

function globs(issues: ConfigIssue[], path: string, list: string[] | undefined): string[] {
  if (list === undefined) return ['*'];
  const r = parseModelGlobs(list.join(','));
  if (!r.ok) {
    issues.push({ path, message: r.reason });
    return ['*'];
  }
  return r.globs;
}

function rate(issues: ConfigIssue[], path: string, v: number | string | undefined): number | null {
  if (v === undefined) return null;
  const n = check(issues, path, (flag) => parseInteger(String(v), flag, 0, 1));
  if (n !== undefined && n > MAX_RATE) issues.push({ path, message: `must be at most ${MAX_RATE}` });
  return n ?? null;
}

/** A channel's credential: a static key, or an OAuth grant stored (encrypted) as JSON. */
function channelCredential(issues: ConfigIssue[], path: string, c: z.infer<typeof channelSchema>): Pick<DeclaredChannel, 'api_key' | 'credential_type'> {
  if (c.oauth !== undefined) {
    if (c.api_key !== undefined) issues.push({ path: `${path}.oauth`, message: 'give either api_key or oauth, not both' });
    const grant = checkOAuthCredential(c.oauth);
    if (!grant.ok) {
      issues.push({ path: `${path}.oauth`, message: grant.reason });
      return { api_key: null, credential_type: 'oauth' };
    }
    return { api_key: JSON.stringify(grant.value), credential_type: 'oauth' };
  }
  return { api_key: c.api_key === undefined ? null : c.api_key.trim() || null, credential_type: 'api_key' };
}

/** A list of channel ids as the jsonb text the keys table stores; whether they exist is checked against the file and the database. */
function channelIds(issues: ConfigIssue[], path: string, v: string[] | undefined): string | null {
  if (v === undefined) return null;
  const ids = v.map((id, i) => check(issues, `${path}[${i}]`, (f) => checkId(id.trim(), f)) ?? id);
  if (ids.length === 0) issues.push({ path, message: 'must name at least one channel (leave it out for all channels)' });
  if (new Set(ids).size !== ids.length) issues.push({ path, message: 'names a channel twice' });
  return JSON.stringify(ids);
}

function usd(issues: ConfigIssue[], path: string, v: string | undefined, opts: { max?: bigint } = { max: MAX_SAFE }): bigint | null {
  if (v === undefined) return null;
  return check(issues, path, (flag) => parseUsd(v, flag, opts)) ?? null;
}

function duplicates<T>(issues: ConfigIssue[], items: T[], keyOf: (t: T) => string, pathOf: (i: number) => string, what: (t: T) => string): void {
  const first = new Map<string, number>();
  items.forEach((t, i) => {
    const k = keyOf(t);
    const j = first.get(k);
    if (j === undefined) first.set(k, i);
    else issues.push({ path: pathOf(i), message: `${what(t)} is declared twice (first at ${pathOf(j)})` });
  });
}

/** The shape is right; now the values: the admin commands' own checks, plus duplicates within the file. */
function normalize(file: ConfigFile, issues: ConfigIssue[]): DeclaredConfig {
  if (file.routing !== undefined) issues.push({ path: 'routing', message: ROUTING_REFUSED });

  const accounts = (file.accounts ?? []).map((a, i): DeclaredAccount => {
    const path = `accounts[${i}]`;
    return {
      path,
      id: check(issues, `${path}.id`, (f) => checkId(a.id, f)) ?? a.id,
      name: a.name === undefined ? null : a.name.trim() || null,
      opening_nano: usd(issues, `${path}.balance_usd`, a.balance_usd, { max: MAX_SAFE }),
    };
  });
  duplicates(issues, accounts, (a) => a.id, (i) => `accounts[${i}].id`, (a) => `account "${a.id}"`);

  const groups = (file.groups ?? []).map((g, i): DeclaredGroup => {
    const path = `groups[${i}]`;
    const id = check(issues, `${path}.id`, (f) => checkId(g.id, f)) ?? g.id;
    let ppm = 1_000_000n;
    if (g.price_multiplier !== undefined) {
      const p = parseMultiplier(g.price_multiplier);
      if (p === undefined) issues.push({ path: `${path}.price_multiplier`, message: `must be a decimal between 0 and 1000 with at most 6 decimals (got "${g.price_multiplier}")` });
      else ppm = p;
    }
    return { path, id, name: g.name?.trim() || id, price_multiplier_ppm: ppm, models: globs(issues, `${path}.models`, g.models) };
  });
  duplicates(issues, groups, (g) => g.id, (i) => `groups[${i}].id`, (g) => `group "${g.id}"`);

  const keys = (file.keys ?? []).map((k, i): DeclaredKey => {
    const path = `keys[${i}]`;
    const name = k.name.trim();
    if (name === '' || name.length > 200) issues.push({ path: `${path}.name`, message: 'must be 1-200 characters' });
    let material: string | null = null;
    if (k.key !== undefined) {
      material = k.key.trim();
      const problem = checkApiKeyMaterial(material);
      // Never echo the material: it is a secret.
      if (problem) issues.push({ path: `${path}.key`, message: problem });
    }
    return {
      path,
      account: check(issues, `${path}.account`, (f) => checkId(k.account, f)) ?? k.account,
      name,
      material,
      models: globs(issues, `${path}.models`, k.models),
      expires_at: k.expires_at === undefined ? null : (check(issues, `${path}.expires_at`, (f) => parseTime(k.expires_at, f)) ?? null),
      limits: {
        group_id: k.group === undefined ? null : (check(issues, `${path}.group`, (f) => checkId(k.group, f)) ?? null),
        rpm: rate(issues, `${path}.limits.rpm`, k.limits?.rpm),
        tpm: rate(issues, `${path}.limits.tpm`, k.limits?.tpm),
        budget_nano_per_day: usd(issues, `${path}.limits.budget_usd_per_day`, k.limits?.budget_usd_per_day),
        budget_nano_per_month: usd(issues, `${path}.limits.budget_usd_per_month`, k.limits?.budget_usd_per_month),
        route_mode: k.route?.mode ?? null,
        route_preset: k.route?.preset ?? null,
        route_allowed_channels: channelIds(issues, `${path}.route.channels`, k.route?.channels),
        route_order: channelIds(issues, `${path}.route.order`, k.route?.order),
        route_max_input_nano_per_mtok: usd(issues, `${path}.route.max_input_usd_per_mtok`, k.route?.max_input_usd_per_mtok),
        route_max_output_nano_per_mtok: usd(issues, `${path}.route.max_output_usd_per_mtok`, k.route?.max_output_usd_per_mtok),
        route_allow_fallbacks: k.route?.fallbacks ?? null,
        route_midstream_failover: k.route?.midstream_failover ?? null,
      },
    };
  });
  duplicates(issues, keys, (k) => `${k.account}\0${k.name}`, (i) => `keys[${i}].name`, (k) => `key "${k.name}" of account "${k.account}"`);
  const withMaterial = keys.filter((k) => k.material !== null);
  duplicates(issues, withMaterial, (k) => k.material!, (i) => `${withMaterial[i]!.path}.key`, () => 'this key material');

  const channels = (file.channels ?? []).map((c, i): DeclaredChannel => {
    const path = `channels[${i}]`;
    const baseUrl = c.base_url.trim();
    let url: URL | undefined;
    try {
      url = new URL(baseUrl);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) issues.push({ path: `${path}.base_url`, message: `must be an http(s) URL (got "${baseUrl}")` });
    const models = c.models.map((m, j) => {
      const mp = `${path}.models[${j}]`;
      const spec = check(issues, `${mp}.id`, () => parseModelSpec(m.upstream === undefined ? m.id : `${m.id}=${m.upstream}`));
      if (m.id.includes('=')) issues.push({ path: `${mp}.id`, message: 'must not contain "="' });
      let price: DeclaredPrice | null = null;
      const p = m.price_usd_per_mtok;
      if (p) {
        const pp = `${mp}.price_usd_per_mtok`;
        const input = usd(issues, `${pp}.input`, p.input);
        const output = usd(issues, `${pp}.output`, p.output);
        price = {
          input: input ?? 0n,
          output: output ?? 0n,
          cached_input: usd(issues, `${pp}.cached_input`, p.cached_input) ?? input ?? 0n,
          cache_write: usd(issues, `${pp}.cache_write`, p.cache_write),
          reasoning: usd(issues, `${pp}.reasoning`, p.reasoning),
          request_fee: usd(issues, `${mp}.request_fee_usd`, m.request_fee_usd) ?? 0n,
        };
      } else if (m.request_fee_usd !== undefined) {
        issues.push({ path: `${mp}.request_fee_usd`, message: 'needs price_usd_per_mtok beside it' });
      }
      return { path: mp, model: spec?.model ?? m.id, upstream_model: spec?.upstream_model ?? m.id, price };
    });
    duplicates(issues, models, (m) => m.model, (j) => `${path}.models[${j}].id`, (m) => `model "${m.model}"`);
    return {
      path,
      id: check(issues, `${path}.id`, (f) => checkId(c.id, f)) ?? c.id,
      provider: c.provider,
      base_url: baseUrl,
      ...channelCredential(issues, path, c),
      settings: check(issues, `${path}.api_version`, () => {
        const r = checkChannelSettings(c.provider, { api_version: c.api_version });
        if (!r.ok) throw new AdminInputError(r.reason.replace('--api-version', 'api_version'));
        return r.value;
      }) ?? {},
      priority: check(issues, `${path}.priority`, (f) => parseInteger(c.priority === undefined ? undefined : String(c.priority), f, 0, -1_000_000)) ?? 0,
      weight: check(issues, `${path}.weight`, (f) => parseInteger(c.weight === undefined ? undefined : String(c.weight), f, 1, 0)) ?? 1,
      enabled: c.enabled ?? true,
      models,
    };
  });
  duplicates(issues, channels, (c) => c.id, (i) => `channels[${i}].id`, (c) => `channel "${c.id}"`);

  return { accounts, groups, keys, channels };
}
