import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { CATALOG_CHANGED_SUBJECT, KEY_CHANGED_SUBJECT, keyChangedSchema, providerSchema, type Provider } from '@switchyard/contracts';
import { nanoToUsd, usdToNano } from '@switchyard/pricing';
import { pgErrorCode, type DB } from './db/database';
import { migrateToLatest } from './db/migrate';
import { findAccount, findBalanceNano, insertAccountIfMissing } from './accounts/accounts.repository';
import { apiKeyPrefix, checkApiKeyMaterial, generateApiKey, hashApiKey, newKeyId, parseModelGlobs } from './keys/api-key';
import { findKeyByHash, insertApiKey, listKeysOfAccount, revokeKey as revokeKeyRow } from './keys/api-keys.repository';
import { findChannel, findChannelCredential, findCurrentPrice, insertPrice, listChannelModels, upsertChannel } from './channels/channels.repository';
import { findLedgerEntry, listLedgerEntries, postEntries, type LedgerEntry } from './ledger/ledger.repository';
import { INT8_MAX } from './money';

/**
 * The admin commands as plain functions: they validate everything first, then
 * write in one transaction, then (best effort) tell the other services over
 * NATS. The CLI (`admin.cli.ts`) is a thin shell over them; tests call them
 * directly. Inputs are the strings an operator typed, so the CLI and the
 * tests go through the same checks.
 */

/** Bad input: the command wrote nothing. The CLI exits with code 2. */
export class AdminInputError extends Error {
  override readonly name = 'AdminInputError';
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
}

/** How a notice went; commands report it so the operator knows whether other services heard. */
export type Notice = { subject: string; sent: true } | { subject: string; sent: false; reason: string };

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MODEL_ID = /^[^\s=]{1,200}$/;
const UPSTREAM_ID = /^\S{1,200}$/;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function required(value: string | undefined, flag: string): string {
  if (value === undefined || value.trim() === '') throw new AdminInputError(`${flag} is required`);
  return value.trim();
}

function checkId(value: string | undefined, flag: string): string {
  const v = required(value, flag);
  if (!ID.test(v)) throw new AdminInputError(`${flag} must be 1-64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit (got "${v}")`);
  return v;
}

function parseInteger(value: string | undefined, flag: string, fallback: number, min: number): number {
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

function parseTime(value: string | undefined, flag: string): Date | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  const ms = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(v) ? Date.parse(v) : NaN;
  if (Number.isNaN(ms)) throw new AdminInputError(`${flag} must be an ISO-8601 date or time (got "${value}")`);
  return new Date(ms);
}

async function notify(deps: AdminDeps, subject: string, payload: unknown): Promise<Notice> {
  const r = await deps.notifier.publish(subject, payload).catch((e: Error) => ({ sent: false as const, reason: e.message }));
  return r.sent ? { subject, sent: true } : { subject, sent: false, reason: r.reason };
}

/** A Postgres overflow of a BIGINT balance is the operator's amount, not a crash. */
async function guardRange<T>(work: () => Promise<T>): Promise<T> {
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
  if (!(await findAccount(deps.db, account))) throw new AdminInputError(`unknown account "${account}"`);
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
  if (!account) throw new AdminInputError(`unknown account "${id}"`);
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
  let key: string;
  if (input.key !== undefined) {
    key = input.key.trim();
    const problem = checkApiKeyMaterial(key);
    if (problem) throw new AdminInputError(`--key: ${problem}`);
  } else {
    key = (deps.generateKey ?? generateApiKey)();
  }
  if (!(await findAccount(deps.db, account))) throw new AdminInputError(`unknown account "${account}"`);
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
  await insertApiKey(deps.db, { id, account_id: account, name, key_hash: keyHash, key_prefix: apiKeyPrefix(key), models: globs.globs, expires_at: expiresAt });
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
  if (!r) throw new AdminInputError(`unknown key "${id}"`);
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
  const apiKey = input.api_key === undefined ? undefined : input.api_key.trim() || null;

  const { created } = await deps.db.transaction().execute((trx) =>
    upsertChannel(trx, { id, provider: provider.data, base_url: baseUrl, credential: apiKey, priority, weight, enabled: !input.disabled }, models),
  );
  const hasCredential = Boolean((await findChannelCredential(deps.db, id))?.credential);
  const priced = await Promise.all(models.map(async (m) => ({ ...m, priced: (await findCurrentPrice(deps.db, id, m.model)) !== undefined })));
  const notice = await notify(deps, CATALOG_CHANGED_SUBJECT, { channel_id: id, reason: 'channel' });
  return { id, created, provider: provider.data, base_url: baseUrl, priority, weight, enabled: !input.disabled, has_credential: hasCredential, models: priced, notice };
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
}

export interface SetPriceResult {
  channel_id: string;
  model: string;
  input_nano_per_mtok: bigint;
  output_nano_per_mtok: bigint;
  cached_input_nano_per_mtok: bigint;
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
  const effectiveFrom = parseTime(input.effective_from, '--effective-from');
  if (!(await findChannel(deps.db, channel))) throw new AdminInputError(`unknown channel "${channel}"`);
  const served = await listChannelModels(deps.db, channel);
  if (!served.some((m) => m.model === model)) {
    throw new AdminInputError(`channel "${channel}" does not serve model "${model}" (it serves: ${served.map((m) => m.model).join(', ') || 'nothing'})`);
  }
  const row = await insertPrice(deps.db, { channel_id: channel, model, input: inputNano, output: outputNano, cached_input: cachedNano, effective_from: effectiveFrom });
  const notice = await notify(deps, CATALOG_CHANGED_SUBJECT, { channel_id: channel, reason: 'price' });
  return {
    channel_id: channel,
    model,
    input_nano_per_mtok: inputNano,
    output_nano_per_mtok: outputNano,
    cached_input_nano_per_mtok: cachedNano,
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
    if (!entry) throw new AdminInputError(`no ledger entry for request id "${input.request_id}"`);
    return { entries: [entry] };
  }
  if (input.account !== undefined) {
    const account = checkId(input.account, '--account');
    const limit = parseInteger(input.limit, '--limit', 20, 1);
    if (!(await findAccount(deps.db, account))) throw new AdminInputError(`unknown account "${account}"`);
    return { entries: await listLedgerEntries(deps.db, account, limit) };
  }
  throw new AdminInputError('--request-id or --account is required');
}
