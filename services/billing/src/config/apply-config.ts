import { readFile } from 'node:fs/promises';
import { sql, type Transaction } from 'kysely';
import { CATALOG_CHANGED_SUBJECT, KEY_CHANGED_SUBJECT, keyChangedSchema } from '@switchyard/contracts';
import { nanoToUsd } from '@switchyard/pricing';
import { AdminInputError, guardRange, notify, type AdminDeps, type Notice } from '../admin.commands';
import type { DB } from '../db/database';
import { findBalanceNano, insertAccountIfMissing } from '../accounts/accounts.repository';
import { postEntries } from '../ledger/ledger.repository';
import { apiKeyPrefix, generateApiKey, hashApiKey, newKeyId } from '../keys/api-key';
import { insertApiKey } from '../keys/api-keys.repository';
import type { ApiKeyRow } from '../keys/api-keys.table';
import { insertPrice, upsertChannel } from '../channels/channels.repository';
import { sameDeclaredGrant } from '../channels/channel-credential';
import { decryptCredential, encryptCredential, parseCredentialKey } from '../crypto/credential-cipher';
import { channelChanges, groupChanges, keyChanges, samePrice } from './config-diff';
import { ConfigError, parseConfigText, type ConfigIssue, type DeclaredChannel, type DeclaredConfig, type DeclaredKey, type DeclaredPrice, type Env } from './declarative-config';

/**
 * Applies a declared configuration: every reference is checked first, then
 * everything is written in one transaction (under an advisory lock, so
 * billing replicas starting together apply one after the other), then the
 * same notices the admin commands send are published. Upsert only: nothing
 * the file no longer names is deleted. Applying the same file again changes
 * nothing: no top-up, no price row, no key material.
 */

export type ChangeAction = 'created' | 'updated' | 'unchanged' | 'rotated';

export interface ApplyChange {
  kind: 'account' | 'group' | 'key' | 'channel' | 'price';
  /** account id, group id, `account/name` of a key, channel id, `channel/model` of a price. */
  id: string;
  action: ChangeAction;
  /** What changed (field names), or a note for the operator. */
  detail?: string;
}

export interface GeneratedKey {
  key_id: string;
  account_id: string;
  name: string;
  /** Shown once (CLI, API response); never logged, never stored. */
  key: string;
  key_prefix: string;
}

export interface ApplyResult {
  dry_run: boolean;
  changes: ApplyChange[];
  /** Keys created without `key:` in the file: their generated material, shown once. Empty on a dry run. */
  generated_keys: GeneratedKey[];
  notes: string[];
  notices: Notice[];
}

export interface ApplyOptions {
  /** Check and compute every change, then roll back. */
  dryRun?: boolean;
  /** For messages: the file name. */
  source?: string;
}

/** Thrown inside the transaction to roll a dry run back. */
class DryRun extends Error {}

const LOCK = sql`select pg_advisory_xact_lock(hashtext('switchyard.billing.config.apply'))`;

/** Reads, parses and applies a YAML file; `${VAR}` from `env`. */
export async function applyConfigFile(deps: AdminDeps, file: string, env: Env, opts: ApplyOptions = {}): Promise<ApplyResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new AdminInputError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return applyConfig(deps, parseConfigText(text, { env, source: file }), { source: file, ...opts });
}

export async function applyConfig(deps: AdminDeps, config: DeclaredConfig, opts: ApplyOptions = {}): Promise<ApplyResult> {
  const credentialKey = deps.credentialKey !== undefined ? deps.credentialKey : parseCredentialKey(process.env.SWITCHYARD_CREDENTIAL_KEY);
  if (!credentialKey && config.channels.some((c) => c.api_key !== null)) {
    const paths = config.channels.filter((c) => c.api_key !== null).map((c) => ({ path: `${c.path}.api_key`, message: 'cannot be stored: SWITCHYARD_CREDENTIAL_KEY is not set' }));
    throw new ConfigError(paths, opts.source);
  }
  const result: ApplyResult = { dry_run: opts.dryRun === true, changes: [], generated_keys: [], notes: [], notices: [] };
  /** Notices to send after commit, deduplicated. */
  const keyNotices = new Map<string, { key_hash: string; key_id: string }>();
  const catalogNotices = new Map<string, { channel_id: string; reason: string }>();

  try {
    await guardRange(() =>
      deps.db.transaction().execute(async (trx) => {
        await LOCK.execute(trx);
        await checkReferences(trx, config, opts.source);
        const plan = new Writer(trx, deps, credentialKey, result, keyNotices, catalogNotices, opts.source);
        for (const g of config.groups) await plan.group(g);
        for (const a of config.accounts) await plan.account(a);
        for (const c of config.channels) await plan.channel(c);
        for (const k of config.keys) await plan.key(k);
        if (opts.dryRun) throw new DryRun();
      }),
    );
  } catch (e) {
    if (!(e instanceof DryRun)) throw e;
    result.generated_keys = [];
    return result;
  }

  for (const n of catalogNotices.values()) result.notices.push(await notify(deps, CATALOG_CHANGED_SUBJECT, n));
  for (const n of keyNotices.values()) result.notices.push(await notify(deps, KEY_CHANGED_SUBJECT, keyChangedSchema.parse(n)));
  return result;
}

/** Accounts and groups a key names must be in the file or the database; key material must not belong to someone else. */
async function checkReferences(trx: Transaction<DB>, config: DeclaredConfig, source: string | undefined): Promise<void> {
  const issues: ConfigIssue[] = [];
  const accounts = new Set(config.accounts.map((a) => a.id));
  const groups = new Set(config.groups.map((g) => g.id));
  const wantedAccounts = [...new Set(config.keys.map((k) => k.account).filter((a) => !accounts.has(a)))];
  const wantedGroups = [...new Set(config.keys.map((k) => k.limits.group_id).filter((g): g is string => g !== null && !groups.has(g)))];
  if (wantedAccounts.length) for (const r of await trx.selectFrom('accounts').select('id').where('id', 'in', wantedAccounts).execute()) accounts.add(r.id);
  if (wantedGroups.length) for (const r of await trx.selectFrom('groups').select('id').where('id', 'in', wantedGroups).execute()) groups.add(r.id);
  const channels = new Set(config.channels.map((c) => c.id));
  const routeChannels = (k: DeclaredKey) => ({
    allowed: k.limits.route_allowed_channels === null ? [] : (JSON.parse(k.limits.route_allowed_channels) as string[]),
    order: k.limits.route_order === null ? [] : (JSON.parse(k.limits.route_order) as string[]),
  });
  const wantedChannels = [...new Set(config.keys.flatMap((k) => [...routeChannels(k).allowed, ...routeChannels(k).order]).filter((c) => !channels.has(c)))];
  if (wantedChannels.length) for (const r of await trx.selectFrom('channels').select('id').where('id', 'in', wantedChannels).execute()) channels.add(r.id);
  for (const k of config.keys) {
    if (!accounts.has(k.account)) issues.push({ path: `${k.path}.account`, message: `unknown account "${k.account}" (declare it under accounts, or create it with the admin API)` });
    if (k.limits.group_id !== null && !groups.has(k.limits.group_id)) {
      issues.push({ path: `${k.path}.group`, message: `unknown group "${k.limits.group_id}" (declare it under groups, or create it with the admin API)` });
    }
    const { allowed, order } = routeChannels(k);
    for (const [field, ids] of [['channels', allowed], ['order', order]] as const) {
      const unknown = ids.filter((c) => !channels.has(c));
      if (unknown.length) issues.push({ path: `${k.path}.route.${field}`, message: `unknown channel${unknown.length > 1 ? 's' : ''} ${unknown.map((c) => `"${c}"`).join(', ')} (declare under channels, or create with the admin API)` });
    }
    const outside = allowed.length ? order.filter((c) => !allowed.includes(c)) : [];
    if (outside.length) issues.push({ path: `${k.path}.route.order`, message: `names channels outside route.channels: ${outside.join(', ')}` });
    if (k.material !== null) {
      const owner = await trx.selectFrom('api_keys').select(['id', 'account_id', 'revoked_at']).where('key_hash', '=', hashApiKey(k.material)).executeTakeFirst();
      if (owner && owner.account_id !== k.account) issues.push({ path: `${k.path}.key`, message: 'this key material already belongs to a key of another account' });
      else if (owner?.revoked_at) issues.push({ path: `${k.path}.key`, message: `this key material belongs to revoked key ${owner.id}; give new material` });
    }
  }
  if (issues.length) throw new ConfigError(issues, source);
}


/** Writes one declared object at a time inside the apply transaction, recording what it did. */
class Writer {
  constructor(
    private readonly trx: Transaction<DB>,
    private readonly deps: AdminDeps,
    private readonly credentialKey: Buffer | null,
    private readonly result: ApplyResult,
    private readonly keyNotices: Map<string, { key_hash: string; key_id: string }>,
    private readonly catalogNotices: Map<string, { channel_id: string; reason: string }>,
    private readonly source: string | undefined,
  ) {}

  private record(change: ApplyChange): void {
    this.result.changes.push(change);
  }

  async group(g: DeclaredConfig['groups'][number]): Promise<void> {
    const before = await this.trx.selectFrom('groups').selectAll().where('id', '=', g.id).executeTakeFirst();
    const changed = before ? groupChanges(before, g) : [];
    if (before && changed.length === 0) return this.record({ kind: 'group', id: g.id, action: 'unchanged' });
    await this.trx
      .insertInto('groups')
      .values({ id: g.id, name: g.name, price_multiplier_ppm: g.price_multiplier_ppm, models: JSON.stringify(g.models) })
      .onConflict((oc) =>
        oc.column('id').doUpdateSet((eb) => ({ name: eb.ref('excluded.name'), price_multiplier_ppm: eb.ref('excluded.price_multiplier_ppm'), models: eb.ref('excluded.models') })),
      )
      .execute();
    if (before) {
      for (const k of await this.trx.selectFrom('api_keys').select(['id', 'key_hash']).where('group_id', '=', g.id).execute()) {
        this.keyNotices.set(k.key_hash, { key_hash: k.key_hash, key_id: k.id });
      }
    }
    this.record({ kind: 'group', id: g.id, action: before ? 'updated' : 'created', ...(changed.length ? { detail: changed.join(', ') } : {}) });
  }

  async account(a: DeclaredConfig['accounts'][number]): Promise<void> {
    if (await insertAccountIfMissing(this.trx, { id: a.id, name: a.name ?? a.id })) {
      if (a.opening_nano !== null && a.opening_nano > 0n) {
        await postEntries(this.trx, a.id, [{ request_id: `opening:${a.id}`, kind: 'topup', amount_nano: a.opening_nano, occurred_at: new Date() }]);
      }
      return this.record({ kind: 'account', id: a.id, action: 'created', ...(a.opening_nano ? { detail: `opening balance ${nanoToUsd(a.opening_nano)} USD` } : {}) });
    }
    const changed: string[] = [];
    if (a.name !== null) {
      const r = await this.trx.updateTable('accounts').set({ name: a.name }).where('id', '=', a.id).where('name', '<>', a.name).executeTakeFirst();
      if (r.numUpdatedRows > 0n) changed.push('name');
    }
    if (a.opening_nano !== null) {
      const balance = (await findBalanceNano(this.trx, a.id)) ?? 0n;
      if (balance !== a.opening_nano) {
        this.result.notes.push(
          `${a.path}.balance_usd: account "${a.id}" exists; balance_usd is its opening balance only, so its balance stays ${nanoToUsd(balance)} USD (credit it with a top-up)`,
        );
      }
    }
    this.record({ kind: 'account', id: a.id, action: changed.length ? 'updated' : 'unchanged', ...(changed.length ? { detail: changed.join(', ') } : {}) });
  }

  async channel(c: DeclaredChannel): Promise<void> {
    const before = await this.trx.selectFrom('channels').selectAll().where('id', '=', c.id).executeTakeFirst();
    const models = c.models.map((m) => ({ model: m.model, upstream_model: m.upstream_model }));
    const changed = before
      ? channelChanges(before, await this.trx.selectFrom('channel_models').select(['model', 'upstream_model']).where('channel_id', '=', c.id).execute(), c, () =>
          this.sameCredential(before.credential, c.api_key!, c.credential_type),
        )
      : [];
    if (!before || changed.length > 0) {
      const credential = c.api_key === null ? undefined : encryptCredential(c.api_key, this.credentialKey);
      await upsertChannel(
        this.trx,
        {
          id: c.id,
          provider: c.provider,
          base_url: c.base_url,
          credential,
          credential_type: c.credential_type,
          settings: JSON.stringify(c.settings),
          priority: c.priority,
          weight: c.weight,
          enabled: c.enabled,
        },
        models,
      );
      this.catalogNotices.set(c.id, { channel_id: c.id, reason: 'channel' });
    }
    this.record({ kind: 'channel', id: c.id, action: !before ? 'created' : changed.length ? 'updated' : 'unchanged', ...(changed.length ? { detail: changed.join(', ') } : {}) });
    for (const m of c.models) {
      if (m.price) await this.price(c.id, m.model, m.price);
      else if (!(await this.currentPrice(c.id, m.model))) {
        this.result.notes.push(`${m.path}: ${c.id}/${m.model} has no price; it is not offered to the router until one is set (price_usd_per_mtok)`);
      }
    }
  }

  /**
   * Only compares plaintext: the stored ciphertext has a random IV. An
   * unreadable stored credential counts as different. An OAuth grant whose
   * refresh token the endpoint rotated from the declared one is the same
   * (writing the declared token back would revive an invalidated one).
   */
  private sameCredential(stored: string | null, plain: string, type: 'api_key' | 'oauth'): boolean {
    if (stored === null) return false;
    try {
      const storedPlain = decryptCredential(stored, this.credentialKey);
      return type === 'oauth' ? sameDeclaredGrant(storedPlain, plain) : storedPlain === plain;
    } catch {
      return false;
    }
  }

  private async currentPrice(channelId: string, model: string) {
    return this.trx
      .selectFrom('prices')
      .selectAll()
      .where('channel_id', '=', channelId)
      .where('model', '=', model)
      .where('effective_from', '<=', sql<Date>`now()`)
      .orderBy('effective_from', 'desc')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
  }

  /** A new price row only when the declared price differs from the one in force now; history is kept. */
  private async price(channelId: string, model: string, p: DeclaredPrice): Promise<void> {
    const id = `${channelId}/${model}`;
    const cur = await this.currentPrice(channelId, model);
    if (samePrice(cur, p)) return this.record({ kind: 'price', id, action: 'unchanged' });
    // now() is the transaction's start: the new row is in force from the moment the apply commits.
    await insertPrice(this.trx, {
      channel_id: channelId,
      model,
      input: p.input,
      output: p.output,
      cached_input: p.cached_input,
      cache_write: p.cache_write,
      reasoning: p.reasoning,
      request_fee: p.request_fee,
    });
    this.catalogNotices.set(channelId, { channel_id: channelId, reason: this.catalogNotices.get(channelId)?.reason ?? 'price' });
    this.record({ kind: 'price', id, action: cur ? 'updated' : 'created', detail: `input ${nanoToUsd(p.input)}, output ${nanoToUsd(p.output)}, cached input ${nanoToUsd(p.cached_input)} USD per 1M tokens` });
  }

  /**
   * A key is found by its material when the file gives it, else by (account,
   * name) among the account's active keys. Given material that matches no key
   * rotates the named key to it; no material keeps whatever the key has.
   */
  async key(k: DeclaredKey): Promise<void> {
    const id = `${k.account}/${k.name}`;
    const hash = k.material === null ? null : hashApiKey(k.material);
    let existing: ApiKeyRow | undefined = hash === null ? undefined : await this.trx.selectFrom('api_keys').selectAll().where('key_hash', '=', hash).executeTakeFirst();
    if (!existing) {
      const named = await this.trx
        .selectFrom('api_keys')
        .selectAll()
        .where('account_id', '=', k.account)
        .where('name', '=', k.name)
        .where('revoked_at', 'is', null)
        .execute();
      if (named.length > 1) {
        throw new ConfigError(
          [{ path: `${k.path}.name`, message: `account "${k.account}" has ${named.length} active keys named "${k.name}" (${named.map((n) => n.id).join(', ')}); revoke or rename all but one with the admin API` }],
          this.source,
        );
      }
      existing = named[0];
    }
    const columns = {
      name: k.name,
      models: k.models,
      expires_at: k.expires_at,
      ...k.limits,
    };
    if (!existing) {
      const material = k.material ?? (this.deps.generateKey ?? generateApiKey)();
      const keyId = (this.deps.newKeyId ?? newKeyId)();
      await insertApiKey(this.trx, { id: keyId, account_id: k.account, key_hash: hashApiKey(material), key_prefix: apiKeyPrefix(material), ...columns });
      if (k.material === null) this.result.generated_keys.push({ key_id: keyId, account_id: k.account, name: k.name, key: material, key_prefix: apiKeyPrefix(material) });
      // The prefix of operator-given material is part of their secret: only a generated key's is shown.
      return this.record({ kind: 'key', id, action: 'created', detail: k.material === null ? `${keyId}, prefix ${apiKeyPrefix(material)}` : keyId });
    }
    const changed = keyChanges(existing, k);
    const rotate = hash !== null && existing.key_hash !== hash;
    if (changed.length === 0 && !rotate) return this.record({ kind: 'key', id, action: 'unchanged', detail: existing.id });
    await this.trx
      .updateTable('api_keys')
      .set({
        ...columns,
        models: JSON.stringify(k.models),
        ...(rotate ? { key_hash: hash, key_prefix: apiKeyPrefix(k.material!), rotated_at: sql<Date>`now()` } : {}),
      })
      .where('id', '=', existing.id)
      .execute();
    // Ingress drops the cache entry of the old hash: a rotated-away key stops working.
    this.keyNotices.set(existing.key_hash, { key_hash: existing.key_hash, key_id: existing.id });
    this.record({
      kind: 'key',
      id,
      action: rotate ? 'rotated' : 'updated',
      detail: [existing.id, ...(rotate ? ['new material'] : []), ...changed].join(', '),
    });
  }
}
