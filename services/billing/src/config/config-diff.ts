import type { ApiKeyRow } from '../keys/api-keys.table';
import type { ChannelRow } from '../channels/channels.table';
import type { GroupRow } from '../groups/groups.table';
import type { PriceRow } from '../channels/prices.table';
import { nanoFromDb } from '../money';
import type { DeclaredChannel, DeclaredGroup, DeclaredKey, DeclaredPrice } from './declarative-config';

/**
 * What differs between a stored object and its declaration, by field name
 * (as the file names it). Plain functions: an empty list means apply writes
 * nothing for that object, which is what makes a re-apply idempotent.
 */

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
const nanoOrNull = (v: string | null) => (v === null ? null : nanoFromDb(v));
const sameTime = (a: Date | null, b: Date | null) => (a === null ? b === null : b !== null && a.getTime() === b.getTime());

export function groupChanges(stored: Pick<GroupRow, 'name' | 'price_multiplier_ppm' | 'models'>, g: DeclaredGroup): string[] {
  const changed: string[] = [];
  if (stored.name !== g.name) changed.push('name');
  if (nanoFromDb(stored.price_multiplier_ppm) !== g.price_multiplier_ppm) changed.push('price_multiplier');
  if (!sameList(stored.models, g.models)) changed.push('models');
  return changed;
}

/** Key settings only; the material is compared by hash by the caller. */
export function keyChanges(stored: ApiKeyRow, k: DeclaredKey): string[] {
  const changed: string[] = [];
  if (stored.name !== k.name) changed.push('name');
  if (!sameList(stored.models, k.models)) changed.push('models');
  if (!sameTime(stored.expires_at, k.expires_at)) changed.push('expires_at');
  if (stored.group_id !== k.limits.group_id) changed.push('group');
  if (stored.rpm !== k.limits.rpm) changed.push('limits.rpm');
  if (stored.tpm !== k.limits.tpm) changed.push('limits.tpm');
  if (nanoOrNull(stored.budget_nano_per_day) !== k.limits.budget_nano_per_day) changed.push('limits.budget_usd_per_day');
  if (nanoOrNull(stored.budget_nano_per_month) !== k.limits.budget_nano_per_month) changed.push('limits.budget_usd_per_month');
  if (stored.route_mode !== k.limits.route_mode) changed.push('route.mode');
  if (stored.route_preset !== k.limits.route_preset) changed.push('route.preset');
  const jsonOrNull = (v: string[] | null) => (v === null ? null : JSON.stringify(v));
  if (jsonOrNull(stored.route_allowed_channels) !== k.limits.route_allowed_channels) changed.push('route.channels');
  if (jsonOrNull(stored.route_order) !== k.limits.route_order) changed.push('route.order');
  if (nanoOrNull(stored.route_max_input_nano_per_mtok) !== k.limits.route_max_input_nano_per_mtok) changed.push('route.max_input_usd_per_mtok');
  if (nanoOrNull(stored.route_max_output_nano_per_mtok) !== k.limits.route_max_output_nano_per_mtok) changed.push('route.max_output_usd_per_mtok');
  if (stored.route_allow_fallbacks !== k.limits.route_allow_fallbacks) changed.push('route.fallbacks');
  if (stored.route_midstream_failover !== k.limits.route_midstream_failover) changed.push('route.midstream_failover');
  return changed;
}

/**
 * Channel fields and the model list (order-insensitive). The credential is
 * compared by `sameCredential` (the stored one is encrypted with a random IV);
 * a declaration without `api_key` keeps it.
 */
export function channelChanges(
  stored: Omit<ChannelRow, 'credential' | 'created_at'>,
  storedModels: ReadonlyArray<{ model: string; upstream_model: string }>,
  c: DeclaredChannel,
  sameCredential: () => boolean,
): string[] {
  const changed: string[] = [];
  for (const f of ['provider', 'base_url', 'priority', 'weight', 'enabled'] as const) if (stored[f] !== c[f]) changed.push(f);
  if (JSON.stringify(stored.settings ?? {}) !== JSON.stringify(c.settings)) changed.push('api_version');
  if (c.api_key !== null && (stored.credential_type !== c.credential_type || !sameCredential())) changed.push(c.credential_type === 'oauth' ? 'oauth' : 'api_key');
  const key = (m: { model: string; upstream_model: string }) => `${m.model}\0${m.upstream_model}`;
  const have = new Set(storedModels.map(key));
  if (storedModels.length !== c.models.length || c.models.some((m) => !have.has(key(m)))) changed.push('models');
  return changed;
}

/** True when the price in force has every component the file declares (an absent default is null, as stored). */
export function samePrice(stored: PriceRow | undefined, p: DeclaredPrice): boolean {
  return (
    stored !== undefined &&
    nanoFromDb(stored.input_nano_per_mtok) === p.input &&
    nanoFromDb(stored.output_nano_per_mtok) === p.output &&
    nanoFromDb(stored.cached_input_nano_per_mtok) === p.cached_input &&
    nanoOrNull(stored.cache_write_nano_per_mtok) === p.cache_write &&
    nanoOrNull(stored.reasoning_nano_per_mtok) === p.reasoning &&
    nanoFromDb(stored.request_fee_nano) === p.request_fee
  );
}
