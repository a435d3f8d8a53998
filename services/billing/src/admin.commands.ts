import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { CATALOG_CHANGED_SUBJECT, KEY_CHANGED_SUBJECT, keyChangedSchema, providerSchema, type Provider } from '@switchyard/contracts';
import { nanoToUsd, usdToNano } from '@switchyard/pricing';
import { pgErrorCode, type DB } from './db/database';
import { migrateToLatest } from './db/migrate';
import { findAccount, findBalanceNano, insertAccountIfMissing } from './accounts/accounts.repository';
import { apiKeyPrefix, checkApiKeyMaterial, generateApiKey, hashApiKey, newKeyId, parseModelGlobs } from './keys/api-key';
import { findKeyByHash, findKeyWithGroupById, insertApiKey, listKeys, listKeysOfAccount, revokeKey as revokeKeyRow, type KeyWithGroup } from './keys/api-keys.repository';
import { findChannel, findChannelCredential, findCurrentPrice, insertPrice, listChannelModels, listChannels, upsertChannel } from './channels/channels.repository';
import { findLedgerEntry, listLedgerEntries, postEntries, toLedgerEntry, type LedgerEntry } from './ledger/ledger.repository';
import { LEDGER_KINDS, type LedgerKind } from './ledger/ledger.table';
import { findGroup } from './groups/groups.repository';
import type { GroupRow } from './groups/groups.table';
import { PPM, formatMultiplier, parseMultiplier } from './ledger/authoritative-cost';
import { nanoFromDb } from './money';
import type { ClickHouseClient } from '@switchyard/clickhouse';
import { reconcile, type ReconcileReport } from './reconcile/reconcile';
import { INT8_MAX } from './money';
import { encryptCredential, parseCredentialKey } from './crypto/credential-cipher';
import { checkChannelSettings, checkOAuthCredential, type ChannelSettings } from './channels/channel-credential';

function credentialKeyOf(deps: AdminDeps): Buffer | null {
  return deps.credentialKey !== undefined ? deps.credentialKey : parseCredentialKey(process.env.SWITCHYARD_CREDENTIAL_KEY);
}

/**
 * The admin commands as plain functions: they validate everything first, then
 * write in one transaction, then (best effort) tell the other services over
 * NATS. The CLI (`admin.cli.ts`) is a thin shell over them; tests call them
 * directly. Inputs are the strings an operator typed, so the CLI and the
 * tests go through the same checks.
 */

/** Bad input: the command wrote nothing. The CLI exits with code 2. */
export class AdminInputError extends Error {
  override readonly name: string = 'AdminInputError';
}

/** Bad input naming something that does not exist (HTTP 404); nothing was written. */
export class AdminNotFoundError extends AdminInputError {
  override readonly name = 'AdminNotFoundError';
}

/** Publishes a notice; resolves false (never throws) when it could not be sent. */
export interface AdminNotifier {
  publish(subject: string, payload: unknown): Promise<{ sent: true } | { sent: false; reason: string }>;
}

export interface AdminDeps {
  db: Kysely<DB>;
  notifier: AdminNotifier;
  generateKey?: () => string;
  newKeyId?: () => string;
  newRequestId?: () => string;
  /** AES-256-GCM key for channel credentials; undefined: read SWITCHYARD_CREDENTIAL_KEY. Null: credentials are refused. */
  credentialKey?: Buffer | null;
  /** ClickHouse for `reconcile` (created on first use by the CLI). */
  clickhouse?: () => ClickHouseClient;
}

/** How a notice went; commands report it so the operator knows whether other services heard. */
export type Notice = { subject: string; sent: true } | { subject: string; sent: false; reason: string };

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MODEL_ID = /^[^\s=]{1,200}$/;
const UPSTREAM_ID = /^\S{1,200}$/;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export function required(value: string | undefined, flag: string): string {
  if (value === undefined || value.trim() === '') throw new AdminInputError(`${flag} is required`);
  return value.trim();
}

export function checkId(value: string | undefined, flag: string): string {
  const v = required(value, flag);
  if (!ID.test(v)) throw new AdminInputError(`${flag} must be 1-64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit (got "${v}")`);
  return v;
}

export function parseInteger(value: string | undefined, flag: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const v = value.trim();
  if (!/^-?\d{1,9}$/.test(v)) throw new AdminInputError(`${flag} must be an integer (got "${value}")`);
  const n = Number(v);
  if (n < min) throw new AdminInputError(`${flag} must be >= ${min} (got ${n})`);
  return n;
}

/** Decimal USD → nano-USD, exactly; refuses negatives, exponents and more than 9 decimals. */
export function parseUsd(value: string | undefined, flag: string, opts: { positive?: boolean; max?: bigint } = {}): bigint {
  const v = required(value, flag);
  let nano: bigint;
  try {
    nano = usdToNano(v);
  } catch {
    throw new AdminInputError(`${flag} must be a non-negative decimal USD amount with at most 9 decimals (got "${v}")`);
  }
  if (opts.positive && nano === 0n) throw new AdminInputError(`${flag} must be greater than 0`);
  if (opts.max !== undefined && nano > opts.max) throw new AdminInputError(`${flag} is too large (got "${v}")`);
  return nano;
}

export function parseTime(value: string | undefined, flag: string): Date | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  const ms = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(v) ? Date.parse(v) : NaN;
  if (Number.isNaN(ms)) throw new AdminInputError(`${flag} must be an ISO-8601 date or time (got "${value}")`);
  return new Date(ms);
}

export async function notify(deps: AdminDeps, subject: string, payload: unknown): Promise<Notice> {
  const r = await deps.notifier.publish(subject, payload).catch((e: Error) => ({ sent: false as const, reason: e.message }));
  return r.sent ? { subject, sent: true } : { subject, sent: false, reason: r.reason };
}

/** A Postgres overflow of a BIGINT balance is the operator's amount, not a crash. */
export async function guardRange<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (pgErrorCode(e) === '22003') throw new AdminInputError('amount out of range: the balance would overflow');
    throw e;
  }
}

// ---------------------------------------------------------------- migrate

export interface MigrateResult {
  applied: string[];
}

export async function migrate(deps: Pick<AdminDeps, 'db'>): Promise<MigrateResult> {
  return { applied: await migrateToLatest(deps.db) };
}

// ---------------------------------------------------------------- accounts

export interface CreateAccountInput {
  id?: string;
  name?: string;
  /** Opening balance, booked as a 'topup' ledger entry `opening:<id>`. */
  balance_usd?: string;
}

export interface CreateAccountResult {
  account_id: string;
  name: string;
  created: boolean;
  balance_nano: bigint;
  balance_usd: string;
}

/** Creates an account with its balance; on an existing id changes nothing and says so (`created: false`). */
export async function createAccount(deps: AdminDeps, input: CreateAccountInput): Promise<CreateAccountResult> {
  const id = checkId(input.id, '--id');
  const name = input.name?.trim() || id;
  const opening = input.balance_usd === undefined ? 0n : parseUsd(input.balance_usd, '--balance-usd', { max: INT8_MAX });
  const created = await guardRange(() =>
    deps.db.transaction().execute(async (trx) => {
      if (!(await insertAccountIfMissing(trx, { id, name }))) return false;
      if (opening > 0n) {
        await postEntries(trx, id, [{ request_id: `opening:${id}`, kind: 'topup', amount_nano: opening, occurred_at: new Date() }]);
      }
      return true;
    }),
  );
  const account = (await findAccount(deps.db, id))!;
  const balance = (await findBalanceNano(deps.db, id)) ?? 0n;
  return { account_id: id, name: account.name, created, balance_nano: balance, balance_usd: nanoToUsd(balance) };
}

export interface TopupInput {
  account?: string;
  usd?: string;
  /** Idempotency key (a payment id, say); a repeated one books nothing. Default: a fresh `topup:<uuid>`. */
  request_id?: string;
}

export interface TopupResult {
  account_id: string;
  request_id: string;
  applied: boolean;
  amount_nano: bigint;
  balance_nano: bigint;
  balance_usd: string;
}

/** Credits an account: the 'topup' ledger entry and the balance move commit together. */
export async function topup(deps: AdminDeps, input: TopupInput): Promise<TopupResult> {
  const account = checkId(input.account, '--account');
  const amount = parseUsd(input.usd, '--usd', { positive: true, max: INT8_MAX });
  const requestId = input.request_id?.trim() || `topup:${deps.newRequestId?.() ?? randomUUID()}`;
  if (requestId.length > 128) throw new AdminInputError('--request-id must be at most 128 characters');
  if (!(await findAccount(deps.db, account))) throw new AdminNotFoundError(`unknown account "${account}"`);
  const applied = await guardRange(() =>
    deps.db.transaction().execute(async (trx) => {
      const r = await postEntries(trx, account, [{ request_id: requestId, kind: 'topup', amount_nano: amount, occurred_at: new Date() }]);
      if (!r.balanceFound) throw new AdminInputError(`account "${account}" has no balance row`);
      return r.posted.has(requestId);
    }),
  );
  if (!applied) {
    const existing = await findLedgerEntry(deps.db, requestId);
    if (existing && (existing.account_id !== account || existing.kind !== 'topup')) {
      throw new AdminInputError(`request id "${requestId}" is already used by a ${existing.kind} entry of account "${existing.account_id}"`);
    }
  }
  const balance = (await findBalanceNano(deps.db, account))!;
  return { account_id: account, request_id: requestId, applied, amount_nano: amount, balance_nano: balance, balance_usd: nanoToUsd(balance) };
}

export interface ShowAccountResult {
  account_id: string;
  name: string;
  created_at: Date;
  balance_nano: bigint;
  balance_usd: string;
  keys: Array<{ id: string; name: string; key_prefix: string; models: string[]; revoked_at: Date | null; expires_at: Date | null }>;
}

export async function showAccount(deps: Pick<AdminDeps, 'db'>, input: { id?: string }): Promise<ShowAccountResult> {
  const id = checkId(input.id, '--id');
  const account = await findAccount(deps.db, id);
  if (!account) throw new AdminNotFoundError(`unknown account "${id}"`);
  const balance = (await findBalanceNano(deps.db, id)) ?? 0n;
  const keys = await listKeysOfAccount(deps.db, id);
  return {
    account_id: id,
    name: account.name,
    created_at: account.created_at,
    balance_nano: balance,
    balance_usd: nanoToUsd(balance),
    keys: keys.map((k) => ({ id: k.id, name: k.name, key_prefix: k.key_prefix, models: k.models, revoked_at: k.revoked_at, expires_at: k.expires_at })),
  };
}

// ---------------------------------------------------------------- keys

export interface CreateKeyInput {
  account?: string;
  name?: string;
  /** Fixed key material; generated when absent. */
  key?: string;
  /** Comma-separated globs; default "*". */
  models?: string;
  expires_at?: string;
  /** Limits and defaults (see KeyLimitsInput). */
  limits?: KeyLimitsInput;
}

export interface CreateKeyResult {
  id: string;
  account_id: string;
  name: string;
  /** The key itself: shown once, never stored. Null when the given key already existed. */
  key: string | null;
  key_prefix: string;
  models: string[];
  expires_at: Date | null;
  created: boolean;
}

/**
 * Creates an API key; only its sha256 is stored. A given `--key` that already
 * exists for the same account changes nothing (`created: false`, so declarative
 * setups can re-run); for another account it is refused.
 */
export async function createKey(deps: AdminDeps, input: CreateKeyInput): Promise<CreateKeyResult> {
  const account = checkId(input.account, '--account');
  const name = required(input.name, '--name');
  if (name.length > 200) throw new AdminInputError('--name must be at most 200 characters');
  const globs = parseModelGlobs(input.models ?? '*');
  if (!globs.ok) throw new AdminInputError(`--models: ${globs.reason}`);
  const expiresAt = parseTime(input.expires_at, '--expires-at') ?? null;
  const limits = await parseKeyLimits(deps.db, input.limits ?? {});
  let key: string;
  if (input.key !== undefined) {
    key = input.key.trim();
    const problem = checkApiKeyMaterial(key);
    if (problem) throw new AdminInputError(`--key: ${problem}`);
  } else {
    key = (deps.generateKey ?? generateApiKey)();
  }
  if (!(await findAccount(deps.db, account))) throw new AdminNotFoundError(`unknown account "${account}"`);
  const keyHash = hashApiKey(key);
  const existing = await findKeyByHash(deps.db, keyHash);
  if (existing) {
    if (existing.account_id !== account) throw new AdminInputError('this key already exists for another account');
    return {
      id: existing.id,
      account_id: account,
      name: existing.name,
      key: null,
      key_prefix: existing.key_prefix,
      models: existing.models,
      expires_at: existing.expires_at,
      created: false,
    };
  }
  const id = (deps.newKeyId ?? newKeyId)();
  await insertApiKey(deps.db, { id, account_id: account, name, key_hash: keyHash, key_prefix: apiKeyPrefix(key), models: globs.globs, expires_at: expiresAt, ...limits });
  return { id, account_id: account, name, key, key_prefix: apiKeyPrefix(key), models: globs.globs, expires_at: expiresAt, created: true };
}

export interface RevokeKeyResult {
  id: string;
  account_id: string;
  revoked_at: Date;
  already_revoked: boolean;
  notice: Notice;
}

/** Revokes a key and tells every ingress to drop it from its cache (best effort). */
export async function revokeKey(deps: AdminDeps, input: { id?: string }): Promise<RevokeKeyResult> {
  const id = required(input.id, '--id');
  const r = await revokeKeyRow(deps.db, id);
  if (!r) throw new AdminNotFoundError(`unknown key "${id}"`);
  const notice = await notify(deps, KEY_CHANGED_SUBJECT, keyChangedSchema.parse({ key_hash: r.row.key_hash, key_id: r.row.id }));
  return { id, account_id: r.row.account_id, revoked_at: r.row.revoked_at!, already_revoked: r.alreadyRevoked, notice };
}

// ---------------------------------------------------------------- channels and prices

export interface CreateChannelInput {
  id?: string;
  provider?: string;
  base_url?: string;
  /** Upstream credential; absent keeps the stored one. Never printed. */
  api_key?: string;
  /** An OAuth refresh-token credential instead of a key (stored encrypted like one). Never printed. */
  oauth?: unknown;
  /** Azure OpenAI's api-version (required for azure-openai, refused for others). */
  api_version?: string;
  priority?: string;
  weight?: string;
  /** "public-id" or "public-id=upstream-id", one per model; the channel's model list becomes exactly these. */
  models?: string[];
  disabled?: boolean;
}

export interface CreateChannelResult {
  id: string;
  created: boolean;
  provider: Provider;
  base_url: string;
  priority: number;
  weight: number;
  enabled: boolean;
  has_credential: boolean;
  credential_type: 'api_key' | 'oauth';
  settings: ChannelSettings;
  models: Array<{ model: string; upstream_model: string; priced: boolean }>;
  notice: Notice;
}

export function parseModelSpec(spec: string): { model: string; upstream_model: string } {
  const [model = '', ...rest] = spec.trim().split('=');
  const upstream = rest.length ? rest.join('=') : model;
  if (!MODEL_ID.test(model)) throw new AdminInputError(`--model: "${spec}" is not a model id (no spaces or '=')`);
  if (!UPSTREAM_ID.test(upstream)) throw new AdminInputError(`--model: "${spec}" has an empty or spaced upstream id`);
  return { model, upstream_model: upstream };
}

/** Creates or updates a channel and its models, then tells the router the catalog changed. */
export async function createChannel(deps: AdminDeps, input: CreateChannelInput): Promise<CreateChannelResult> {
  const id = checkId(input.id, '--id');
  const provider = providerSchema.safeParse(required(input.provider, '--provider'));
  if (!provider.success) throw new AdminInputError(`--provider must be one of ${providerSchema.options.join(', ')} (got "${input.provider}")`);
  const baseUrl = required(input.base_url, '--base-url');
  let url: URL | undefined;
  try {
    url = new URL(baseUrl);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw new AdminInputError(`--base-url must be an http(s) URL (got "${baseUrl}")`);
  const priority = parseInteger(input.priority, '--priority', 0, -1_000_000);
  const weight = parseInteger(input.weight, '--weight', 1, 0);
  if (!input.models || input.models.length === 0) throw new AdminInputError('--model is required (repeat it for each model)');
  const models = input.models.map(parseModelSpec);
  const dup = models.find((m, i) => models.findIndex((o) => o.model === m.model) !== i);
  if (dup) throw new AdminInputError(`--model ${dup.model} is given twice`);
  const settings = checkChannelSettings(provider.data, { api_version: input.api_version });
  if (!settings.ok) throw new AdminInputError(settings.reason);
  if (input.api_key !== undefined && input.oauth !== undefined) throw new AdminInputError('give either an api key or an oauth credential, not both');
  let plainKey: string | null | undefined = input.api_key === undefined ? undefined : input.api_key.trim() || null;
  let credentialType: 'api_key' | 'oauth' = 'api_key';
  if (input.oauth !== undefined) {
    const grant = checkOAuthCredential(input.oauth);
    if (!grant.ok) throw new AdminInputError(grant.reason);
    plainKey = JSON.stringify(grant.value);
    credentialType = 'oauth';
  }
  let apiKey: string | null | undefined = plainKey;
  if (plainKey) {
    try {
      apiKey = encryptCredential(plainKey, credentialKeyOf(deps));
    } catch (e) {
      throw new AdminInputError((e as Error).message);
    }
  }

  const { created } = await deps.db.transaction().execute((trx) =>
    upsertChannel(
      trx,
      { id, provider: provider.data, base_url: baseUrl, credential: apiKey, credential_type: credentialType, settings: JSON.stringify(settings.value), priority, weight, enabled: !input.disabled },
      models,
    ),
  );
  const stored = await findChannelCredential(deps.db, id);
  const hasCredential = Boolean(stored?.credential);
  const priced = await Promise.all(models.map(async (m) => ({ ...m, priced: (await findCurrentPrice(deps.db, id, m.model)) !== undefined })));
  const notice = await notify(deps, CATALOG_CHANGED_SUBJECT, { channel_id: id, reason: 'channel' });
  return { id, created, provider: provider.data, base_url: baseUrl, priority, weight, enabled: !input.disabled, has_credential: hasCredential, credential_type: stored?.credential_type ?? 'api_key', settings: settings.value, models: priced, notice };
}

export interface SetPriceInput {
  channel?: string;
  model?: string;
  input_usd_per_mtok?: string;
  output_usd_per_mtok?: string;
  /** Default: the input price (no cache discount). */
  cached_input_usd_per_mtok?: string;
  /** Default: now. A future time schedules a price change. */
  effective_from?: string;
  /** Default (absent): the input price. */
  cache_write_usd_per_mtok?: string;
  /** Default (absent): the output price. */
  reasoning_usd_per_mtok?: string;
  /** Per-request fee in USD; default 0. */
  request_fee_usd?: string;
}

export interface SetPriceResult {
  channel_id: string;
  model: string;
  input_nano_per_mtok: bigint;
  output_nano_per_mtok: bigint;
  cached_input_nano_per_mtok: bigint;
  cache_write_nano_per_mtok: bigint | null;
  reasoning_nano_per_mtok: bigint | null;
  request_fee_nano: bigint;
  effective_from: Date;
  notice: Notice;
}

/** Adds a price to the history of a (channel, model); the latest one in force wins. */
export async function setPrice(deps: AdminDeps, input: SetPriceInput): Promise<SetPriceResult> {
  const channel = checkId(input.channel, '--channel');
  const model = required(input.model, '--model');
  const max = { max: MAX_SAFE };
  const inputNano = parseUsd(input.input_usd_per_mtok, '--input-usd-per-mtok', max);
  const outputNano = parseUsd(input.output_usd_per_mtok, '--output-usd-per-mtok', max);
  const cachedNano =
    input.cached_input_usd_per_mtok === undefined ? inputNano : parseUsd(input.cached_input_usd_per_mtok, '--cached-input-usd-per-mtok', max);
  const cacheWriteNano = input.cache_write_usd_per_mtok === undefined ? null : parseUsd(input.cache_write_usd_per_mtok, '--cache-write-usd-per-mtok', max);
  const reasoningNano = input.reasoning_usd_per_mtok === undefined ? null : parseUsd(input.reasoning_usd_per_mtok, '--reasoning-usd-per-mtok', max);
  const feeNano = input.request_fee_usd === undefined ? 0n : parseUsd(input.request_fee_usd, '--request-fee-usd', max);
  const effectiveFrom = parseTime(input.effective_from, '--effective-from');
  if (!(await findChannel(deps.db, channel))) throw new AdminNotFoundError(`unknown channel "${channel}"`);
  const served = await listChannelModels(deps.db, channel);
  if (!served.some((m) => m.model === model)) {
    throw new AdminNotFoundError(`channel "${channel}" does not serve model "${model}" (it serves: ${served.map((m) => m.model).join(', ') || 'nothing'})`);
  }
  const row = await insertPrice(deps.db, { channel_id: channel, model, input: inputNano, output: outputNano, cached_input: cachedNano,
    cache_write: cacheWriteNano,
    reasoning: reasoningNano,
    request_fee: feeNano,
    effective_from: effectiveFrom,
  });
  const notice = await notify(deps, CATALOG_CHANGED_SUBJECT, { channel_id: channel, reason: 'price' });
  return {
    channel_id: channel,
    model,
    input_nano_per_mtok: inputNano,
    output_nano_per_mtok: outputNano,
    cached_input_nano_per_mtok: cachedNano,
    cache_write_nano_per_mtok: cacheWriteNano,
    reasoning_nano_per_mtok: reasoningNano,
    request_fee_nano: feeNano,
    effective_from: row.effective_from,
    notice,
  };
}

// ---------------------------------------------------------------- ledger

export interface LedgerInput {
  request_id?: string;
  account?: string;
  limit?: string;
}

/** One entry by request id, or the latest entries of an account (newest first). */
export async function ledger(deps: Pick<AdminDeps, 'db'>, input: LedgerInput): Promise<{ entries: LedgerEntry[] }> {
  if (input.request_id !== undefined) {
    const entry = await findLedgerEntry(deps.db, required(input.request_id, '--request-id'));
    if (!entry) throw new AdminNotFoundError(`no ledger entry for request id "${input.request_id}"`);
    return { entries: [entry] };
  }
  if (input.account !== undefined) {
    const account = checkId(input.account, '--account');
    const limit = parseInteger(input.limit, '--limit', 20, 1);
    if (!(await findAccount(deps.db, account))) throw new AdminNotFoundError(`unknown account "${account}"`);
    return { entries: await listLedgerEntries(deps.db, account, limit) };
  }
  throw new AdminInputError('--request-id or --account is required');
}

// ---------------------------------------------------------------- key limits, rotation, groups, listings

/**
 * Per-key limits as an operator gives them: strings (as typed), `null` to
 * clear, absent to keep. Money in decimal USD; rpm/tpm positive integers.
 */
export interface KeyLimitsInput {
  group?: string | null;
  rpm?: string | null;
  tpm?: string | null;
  budget_usd_per_day?: string | null;
  budget_usd_per_month?: string | null;
  route_mode?: string | null;
  route_preset?: string | null;
  /** Channel ids the key may reach (comma-separated or a list); every id must be a known channel. */
  route_channels?: string | readonly string[] | null;
  /** Channel ids that lead the key's plans, in this order; each must be known (and allowed, when route_channels is set). */
  route_order?: string | readonly string[] | null;
  /** Price ceilings, decimal USD per 1M tokens; a channel above either is never used for the key. */
  route_max_input_usd_per_mtok?: string | null;
  route_max_output_usd_per_mtok?: string | null;
  /** "on"/"off" (or true/false): off = one channel only, no fallback, hedge or race. */
  route_fallbacks?: string | boolean | null;
  /** "on"/"off": continue a broken stream on the next channel with the partial answer as prefix. */
  route_midstream_failover?: string | boolean | null;
}

export interface KeyLimitColumns {
  group_id?: string | null;
  rpm?: number | null;
  tpm?: number | null;
  budget_nano_per_day?: bigint | null;
  budget_nano_per_month?: bigint | null;
  route_mode?: string | null;
  route_preset?: string | null;
  /** jsonb text. */
  route_allowed_channels?: string | null;
  route_order?: string | null;
  route_max_input_nano_per_mtok?: bigint | null;
  route_max_output_nano_per_mtok?: bigint | null;
  route_allow_fallbacks?: boolean | null;
  route_midstream_failover?: boolean | null;
}

const ROUTE_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
const MAX_RATE = 1_000_000_000;

function positiveRate(value: string, flag: string): number {
  const n = parseInteger(value, flag, 0, 1);
  if (n > MAX_RATE) throw new AdminInputError(`${flag} must be at most ${MAX_RATE}`);
  return n;
}

/** Validates limits (the group must exist); returns only the columns to change. */
export async function parseKeyLimits(db: Kysely<DB>, input: KeyLimitsInput): Promise<KeyLimitColumns> {
  const out: KeyLimitColumns = {};
  if (input.rpm !== undefined) out.rpm = input.rpm === null ? null : positiveRate(input.rpm, '--rpm');
  if (input.tpm !== undefined) out.tpm = input.tpm === null ? null : positiveRate(input.tpm, '--tpm');
  const money = { max: MAX_SAFE };
  if (input.budget_usd_per_day !== undefined) {
    out.budget_nano_per_day = input.budget_usd_per_day === null ? null : parseUsd(input.budget_usd_per_day, '--budget-usd-per-day', money);
  }
  if (input.budget_usd_per_month !== undefined) {
    out.budget_nano_per_month = input.budget_usd_per_month === null ? null : parseUsd(input.budget_usd_per_month, '--budget-usd-per-month', money);
  }
  for (const f of ['route_mode', 'route_preset'] as const) {
    const v = input[f];
    if (v === undefined) continue;
    if (v !== null && !ROUTE_NAME.test(v.trim())) throw new AdminInputError(`--${f.replace('_', '-')} must be 1-64 letters, digits, '.', '_', ':' or '-' (got "${v}")`);
    out[f] = v === null ? null : v.trim();
  }
  await parseKeyRouting(db, input, out);
  if (input.group !== undefined) {
    if (input.group === null) out.group_id = null;
    else {
      const g = checkId(input.group, '--group');
      if (!(await findGroup(db, g))) throw new AdminNotFoundError(`unknown group "${g}"`);
      out.group_id = g;
    }
  }
  return out;
}

const CHANNEL_LIST_MAX = 64;

function channelList(v: string | readonly string[], flag: string): string[] {
  const ids = (typeof v === 'string' ? v.split(',') : [...v]).map((x) => (typeof x === 'string' ? x.trim() : '')).filter((x) => x !== '');
  if (ids.length === 0) throw new AdminInputError(`${flag} must name at least one channel id (or be cleared)`);
  if (ids.length > CHANNEL_LIST_MAX) throw new AdminInputError(`${flag} may name at most ${CHANNEL_LIST_MAX} channels`);
  return [...new Set(ids.map((id) => checkId(id, flag)))];
}

function onOff(v: string | boolean, flag: string): boolean {
  if (typeof v === 'boolean') return v;
  const s = v.trim().toLowerCase();
  if (['on', 'true', '1', 'yes'].includes(s)) return true;
  if (['off', 'false', '0', 'no'].includes(s)) return false;
  throw new AdminInputError(`${flag} must be on or off (got "${v}")`);
}

/**
 * Per-key routing control. Channel ids must name known channels (a typo would
 * otherwise lock the key out of every channel); an order must lie inside the
 * allowed set when both are given. Validation throws before anything is written.
 */
async function parseKeyRouting(db: Kysely<DB>, input: KeyLimitsInput, out: KeyLimitColumns): Promise<void> {
  const allowed = input.route_channels === undefined || input.route_channels === null ? input.route_channels : channelList(input.route_channels, '--route-channels');
  const order = input.route_order === undefined || input.route_order === null ? input.route_order : channelList(input.route_order, '--route-order');
  const named = [...(allowed ?? []), ...(order ?? [])];
  if (named.length > 0) {
    const known = new Set((await db.selectFrom('channels').select('id').where('id', 'in', [...new Set(named)]).execute()).map((r) => r.id));
    const unknown = [...new Set(named)].filter((id) => !known.has(id));
    if (unknown.length > 0) throw new AdminInputError(`unknown channel${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')} (--route-channels / --route-order name channel ids)`);
  }
  if (allowed && order) {
    const outside = order.filter((id) => !allowed.includes(id));
    if (outside.length > 0) throw new AdminInputError(`--route-order names channels outside --route-channels: ${outside.join(', ')}`);
  }
  if (allowed !== undefined) out.route_allowed_channels = allowed === null ? null : JSON.stringify(allowed);
  if (order !== undefined) out.route_order = order === null ? null : JSON.stringify(order);
  const money = { max: MAX_SAFE };
  if (input.route_max_input_usd_per_mtok !== undefined) {
    out.route_max_input_nano_per_mtok = input.route_max_input_usd_per_mtok === null ? null : parseUsd(input.route_max_input_usd_per_mtok, '--route-max-input-usd-per-mtok', money);
  }
  if (input.route_max_output_usd_per_mtok !== undefined) {
    out.route_max_output_nano_per_mtok = input.route_max_output_usd_per_mtok === null ? null : parseUsd(input.route_max_output_usd_per_mtok, '--route-max-output-usd-per-mtok', money);
  }
  if (input.route_fallbacks !== undefined) out.route_allow_fallbacks = input.route_fallbacks === null ? null : onOff(input.route_fallbacks, '--route-fallbacks');
  if (input.route_midstream_failover !== undefined) {
    out.route_midstream_failover = input.route_midstream_failover === null ? null : onOff(input.route_midstream_failover, '--route-midstream-failover');
  }
}

export interface KeyView {
  id: string;
  account_id: string;
  name: string;
  key_prefix: string;
  models: string[];
  group_id: string | null;
  price_multiplier: string;
  rpm: number | null;
  tpm: number | null;
  budget_nano_per_day: bigint | null;
  budget_nano_per_month: bigint | null;
  route_mode: string | null;
  route_preset: string | null;
  route_allowed_channels: string[] | null;
  route_order: string[] | null;
  route_max_input_nano_per_mtok: bigint | null;
  route_max_output_nano_per_mtok: bigint | null;
  route_allow_fallbacks: boolean | null;
  route_midstream_failover: boolean | null;
  expires_at: Date | null;
  revoked_at: Date | null;
  rotated_at: Date | null;
  created_at: Date;
}

export function toKeyView(k: KeyWithGroup): KeyView {
  return {
    id: k.id,
    account_id: k.account_id,
    name: k.name,
    key_prefix: k.key_prefix,
    models: k.models,
    group_id: k.group_id,
    price_multiplier: formatMultiplier(k.group_multiplier_ppm === null ? PPM : nanoFromDb(k.group_multiplier_ppm)),
    rpm: k.rpm,
    tpm: k.tpm,
    budget_nano_per_day: k.budget_nano_per_day === null ? null : nanoFromDb(k.budget_nano_per_day),
    budget_nano_per_month: k.budget_nano_per_month === null ? null : nanoFromDb(k.budget_nano_per_month),
    route_mode: k.route_mode,
    route_preset: k.route_preset,
    route_allowed_channels: k.route_allowed_channels ?? null,
    route_order: k.route_order ?? null,
    route_max_input_nano_per_mtok: k.route_max_input_nano_per_mtok === null || k.route_max_input_nano_per_mtok === undefined ? null : nanoFromDb(k.route_max_input_nano_per_mtok),
    route_max_output_nano_per_mtok: k.route_max_output_nano_per_mtok === null || k.route_max_output_nano_per_mtok === undefined ? null : nanoFromDb(k.route_max_output_nano_per_mtok),
    route_allow_fallbacks: k.route_allow_fallbacks ?? null,
    route_midstream_failover: k.route_midstream_failover ?? null,
    expires_at: k.expires_at,
    revoked_at: k.revoked_at,
    rotated_at: k.rotated_at,
    created_at: k.created_at,
  };
}

export async function getKey(deps: Pick<AdminDeps, 'db'>, input: { id?: string }): Promise<KeyView> {
  const id = checkId(input.id, '--id');
  const k = await findKeyWithGroupById(deps.db, id);
  if (!k) throw new AdminNotFoundError(`unknown key "${id}"`);
  return toKeyView(k);
}

export async function listKeysCommand(deps: Pick<AdminDeps, 'db'>, input: { account?: string }): Promise<{ keys: KeyView[] }> {
  let account: string | undefined;
  if (input.account !== undefined) {
    account = checkId(input.account, '--account');
    if (!(await findAccount(deps.db, account))) throw new AdminNotFoundError(`unknown account "${account}"`);
  }
  return { keys: (await listKeys(deps.db, account)).map(toKeyView) };
}

export interface UpdateKeyInput extends KeyLimitsInput {
  id?: string;
  name?: string;
  models?: string;
  expires_at?: string | null;
}

/** Changes a key's limits, models, name or expiry; tells every ingress to re-resolve it. */
export async function updateKey(deps: AdminDeps, input: UpdateKeyInput): Promise<{ key: KeyView; notice: Notice }> {
  const id = checkId(input.id, '--id');
  const set: Record<string, unknown> = { ...(await parseKeyLimits(deps.db, input)) };
  if (input.name !== undefined) {
    const name = required(input.name, '--name');
    if (name.length > 200) throw new AdminInputError('--name must be at most 200 characters');
    set.name = name;
  }
  if (input.models !== undefined) {
    const globs = parseModelGlobs(input.models);
    if (!globs.ok) throw new AdminInputError(`--models: ${globs.reason}`);
    set.models = JSON.stringify(globs.globs);
  }
  if (input.expires_at !== undefined) set.expires_at = input.expires_at === null ? null : parseTime(input.expires_at, '--expires-at')!;
  const before = await findKeyWithGroupById(deps.db, id);
  if (!before) throw new AdminNotFoundError(`unknown key "${id}"`);
  if (Object.keys(set).length > 0) await deps.db.updateTable('api_keys').set(set).where('id', '=', id).execute();
  const notice = await notify(deps, KEY_CHANGED_SUBJECT, keyChangedSchema.parse({ key_hash: before.key_hash, key_id: id }));
  return { key: toKeyView((await findKeyWithGroupById(deps.db, id))!), notice };
}

/**
 * Replaces a key's material: same id, limits and history; the old key stops
 * working (ingress drops it on the notice) and the new one is shown once.
 */
export async function rotateKey(deps: AdminDeps, input: { id?: string }): Promise<{ id: string; key: string; key_prefix: string; notice: Notice }> {
  const id = checkId(input.id, '--id');
  const before = await findKeyWithGroupById(deps.db, id);
  if (!before) throw new AdminNotFoundError(`unknown key "${id}"`);
  if (before.revoked_at) throw new AdminInputError(`key "${id}" is revoked; create a new key instead`);
  const key = (deps.generateKey ?? generateApiKey)();
  await deps.db
    .updateTable('api_keys')
    .set({ key_hash: hashApiKey(key), key_prefix: apiKeyPrefix(key), rotated_at: sql<Date>`now()` })
    .where('id', '=', id)
    .execute();
  const notice = await notify(deps, KEY_CHANGED_SUBJECT, keyChangedSchema.parse({ key_hash: before.key_hash, key_id: id }));
  return { id, key, key_prefix: apiKeyPrefix(key), notice };
}

export interface GroupView {
  id: string;
  name: string;
  price_multiplier: string;
  price_multiplier_ppm: bigint;
  models: string[];
  created_at: Date;
}

function toGroupView(g: GroupRow): GroupView {
  const ppm = nanoFromDb(g.price_multiplier_ppm);
  return { id: g.id, name: g.name, price_multiplier: formatMultiplier(ppm), price_multiplier_ppm: ppm, models: g.models, created_at: g.created_at };
}

export interface UpsertGroupInput {
  id?: string;
  name?: string;
  /** Decimal, e.g. "1.25"; at most 6 decimals. Default 1. */
  price_multiplier?: string;
  models?: string;
}

/** Creates or replaces a group; its keys are re-resolved by ingress on the notices. */
export async function upsertGroup(deps: AdminDeps, input: UpsertGroupInput): Promise<{ group: GroupView; created: boolean }> {
  const id = checkId(input.id, '--id');
  const name = input.name?.trim() || id;
  const ppm = input.price_multiplier === undefined ? PPM : parseMultiplier(input.price_multiplier);
  if (ppm === undefined) throw new AdminInputError(`--price-multiplier must be a decimal between 0 and 1000 with at most 6 decimals (got "${input.price_multiplier}")`);
  const globs = parseModelGlobs(input.models ?? '*');
  if (!globs.ok) throw new AdminInputError(`--models: ${globs.reason}`);
  const row = await deps.db
    .insertInto('groups')
    .values({ id, name, price_multiplier_ppm: ppm, models: JSON.stringify(globs.globs) })
    .onConflict((oc) =>
      oc.column('id').doUpdateSet((eb) => ({ name: eb.ref('excluded.name'), price_multiplier_ppm: eb.ref('excluded.price_multiplier_ppm'), models: eb.ref('excluded.models') })),
    )
    .returning(sql<boolean>`(xmax = 0)`.as('created'))
    .executeTakeFirstOrThrow();
  for (const k of await deps.db.selectFrom('api_keys').select(['id', 'key_hash']).where('group_id', '=', id).execute()) {
    await notify(deps, KEY_CHANGED_SUBJECT, { key_hash: k.key_hash, key_id: k.id });
  }
  return { group: toGroupView((await findGroup(deps.db, id))!), created: row.created };
}

export async function listGroups(deps: Pick<AdminDeps, 'db'>): Promise<{ groups: GroupView[] }> {
  return { groups: (await deps.db.selectFrom('groups').selectAll().orderBy('id').execute()).map(toGroupView) };
}

export async function getGroup(deps: Pick<AdminDeps, 'db'>, input: { id?: string }): Promise<GroupView> {
  const id = checkId(input.id, '--id');
  const g = await findGroup(deps.db, id);
  if (!g) throw new AdminNotFoundError(`unknown group "${id}"`);
  return toGroupView(g);
}

export async function listAccounts(deps: Pick<AdminDeps, 'db'>): Promise<{ accounts: Array<{ account_id: string; name: string; balance_nano: bigint; balance_usd: string; created_at: Date }> }> {
  const rows = await deps.db
    .selectFrom('accounts as a')
    .leftJoin('balances as b', 'b.account_id', 'a.id')
    .select(['a.id', 'a.name', 'a.created_at', 'b.balance_nano'])
    .orderBy('a.id')
    .execute();
  return {
    accounts: rows.map((r) => {
      const bal = r.balance_nano === null ? 0n : nanoFromDb(r.balance_nano);
      return { account_id: r.id, name: r.name, balance_nano: bal, balance_usd: nanoToUsd(bal), created_at: r.created_at };
    }),
  };
}

export async function listChannelsCommand(deps: Pick<AdminDeps, 'db'>) {
  return { channels: await listChannels(deps.db) };
}

export async function getChannel(deps: Pick<AdminDeps, 'db'>, input: { id?: string }) {
  const id = checkId(input.id, '--id');
  const c = (await listChannels(deps.db)).find((x) => x.id === id);
  if (!c) throw new AdminNotFoundError(`unknown channel "${id}"`);
  return c;
}

export interface PriceView {
  id: string;
  channel_id: string;
  model: string;
  input_nano_per_mtok: bigint;
  output_nano_per_mtok: bigint;
  cached_input_nano_per_mtok: bigint;
  cache_write_nano_per_mtok: bigint | null;
  reasoning_nano_per_mtok: bigint | null;
  request_fee_nano: bigint;
  effective_from: Date;
}

/** The price history of a channel (optionally one model), newest first. */
export async function priceHistory(deps: Pick<AdminDeps, 'db'>, input: { channel?: string; model?: string }): Promise<{ prices: PriceView[] }> {
  const channel = checkId(input.channel, '--channel');
  if (!(await findChannel(deps.db, channel))) throw new AdminNotFoundError(`unknown channel "${channel}"`);
  let q = deps.db.selectFrom('prices').selectAll().where('channel_id', '=', channel);
  if (input.model !== undefined) q = q.where('model', '=', required(input.model, '--model'));
  const rows = await q.orderBy('effective_from', 'desc').orderBy('id', 'desc').execute();
  const n = (v: string | null) => (v === null ? null : nanoFromDb(v));
  return {
    prices: rows.map((r) => ({
      id: r.id,
      channel_id: r.channel_id,
      model: r.model,
      input_nano_per_mtok: nanoFromDb(r.input_nano_per_mtok),
      output_nano_per_mtok: nanoFromDb(r.output_nano_per_mtok),
      cached_input_nano_per_mtok: nanoFromDb(r.cached_input_nano_per_mtok),
      cache_write_nano_per_mtok: n(r.cache_write_nano_per_mtok),
      reasoning_nano_per_mtok: n(r.reasoning_nano_per_mtok),
      request_fee_nano: nanoFromDb(r.request_fee_nano),
      effective_from: r.effective_from,
    })),
  };
}

export interface LedgerQueryInput {
  account?: string;
  from?: string;
  to?: string;
  kind?: string;
  limit?: string;
  /** The `next_cursor` of the previous page. */
  cursor?: string;
}

/** An account's entries in [from, to) by occurrence time, newest first, paginated by ledger id. */
export async function ledgerQuery(deps: Pick<AdminDeps, 'db'>, input: LedgerQueryInput): Promise<{ entries: LedgerEntry[]; next_cursor: string | null }> {
  const account = checkId(input.account, '--account');
  const from = parseTime(input.from, '--from');
  const to = parseTime(input.to, '--to');
  if (from && to && from >= to) throw new AdminInputError('--from must be before --to');
  const limit = parseInteger(input.limit, '--limit', 100, 1);
  if (limit > 1000) throw new AdminInputError('--limit must be at most 1000');
  if (input.kind !== undefined && !LEDGER_KINDS.includes(input.kind as LedgerKind)) throw new AdminInputError(`--kind must be one of ${LEDGER_KINDS.join(', ')}`);
  if (input.cursor !== undefined && !/^\d{1,19}$/.test(input.cursor)) throw new AdminInputError('--cursor is not a cursor of this API');
  if (!(await findAccount(deps.db, account))) throw new AdminNotFoundError(`unknown account "${account}"`);
  let q = deps.db.selectFrom('ledger').selectAll().where('account_id', '=', account);
  if (from) q = q.where('occurred_at', '>=', from);
  if (to) q = q.where('occurred_at', '<', to);
  if (input.kind) q = q.where('kind', '=', input.kind as LedgerKind);
  if (input.cursor) q = q.where('id', '<', input.cursor);
  const rows = await q.orderBy('id', 'desc').limit(limit + 1).execute();
  const page = rows.slice(0, limit).map(toLedgerEntry);
  return { entries: page, next_cursor: rows.length > limit ? page[page.length - 1]!.id : null };
}

// ---------------------------------------------------------------- reconciliation

/** Compares the ledger with ClickHouse usage rows for [from, to); `clean` false = discrepancies (CLI exit 3). */
export async function reconcileLedger(deps: Pick<AdminDeps, 'db' | 'clickhouse'>, input: { from?: string; to?: string }): Promise<ReconcileReport> {
  const from = parseTime(required(input.from, '--from'), '--from')!;
  const to = parseTime(required(input.to, '--to'), '--to')!;
  if (from >= to) throw new AdminInputError('--from must be before --to');
  if (!deps.clickhouse) throw new AdminInputError('reconcile needs ClickHouse (CLICKHOUSE_URL, CLICKHOUSE_DATABASE)');
  return reconcile(deps.db, deps.clickhouse(), { from, to });
}
