import type { UsageEventV1 } from '@switchyard/contracts';
import type { Db } from '../db/database';
import { nanoFromDb } from '../money';
import { PPM, applyMultiplier, chargeNano, type ChargePrice } from './authoritative-cost';

/** What billing charges for one usage event, and with what. */
export interface UsageCharge {
  /** Positive nano-USD to debit. */
  amount_nano: bigint;
  /** Ingress's cost_nano, kept beside it. */
  estimate_nano: bigint;
  /** The price row used; null when no price was in force at occurred_at (the estimate × multiplier is charged). */
  price_id: string | null;
  multiplier_ppm: bigint;
}

interface PriceVersion extends ChargePrice {
  id: string;
  effective_from: number;
}

const pairKey = (channel: string, model: string) => `${channel}\u0000${model}`;

/**
 * Authoritative charges for a batch, in two queries: the price history of
 * every (channel, model) in the batch, and the group multiplier of every key.
 * Each event is priced with the row in force at its `occurred_at` (latest
 * `effective_from` not after it; ties: latest id), looked up under the public
 * model the client asked for, then under the served model, then (a model
 * variant) under the longest priced dash-prefix of the asked id. The multiplier is
 * the key's group's current one (1 without a group or for an unknown key).
 */
export async function chargeUsageEvents(db: Db, events: readonly UsageEventV1[]): Promise<Map<string, UsageCharge>> {
  const channels = [...new Set(events.flatMap((e) => [e.channel_id, ...e.attempts.filter((a) => a.usage).map((a) => a.channel_id)]).filter((c) => c !== ''))];
  const history = new Map<string, PriceVersion[]>();
  if (channels.length > 0) {
    const models = [...new Set(events.flatMap((e) => [e.model_requested, e.model_served, ...dashPrefixes(e.model_requested)]).filter((m) => m !== ''))];
    const rows = await db
      .selectFrom('prices')
      .selectAll()
      .where('channel_id', 'in', channels)
      .where('model', 'in', models)
      .orderBy('effective_from', 'desc')
      .orderBy('id', 'desc')
      .execute();
    for (const r of rows) {
      const k = pairKey(r.channel_id, r.model);
      let list = history.get(k);
      if (!list) history.set(k, (list = []));
      list.push({
        id: r.id,
        effective_from: r.effective_from.getTime(),
        input_nano_per_mtok: nanoFromDb(r.input_nano_per_mtok),
        output_nano_per_mtok: nanoFromDb(r.output_nano_per_mtok),
        cached_input_nano_per_mtok: nanoFromDb(r.cached_input_nano_per_mtok),
        cache_write_nano_per_mtok: r.cache_write_nano_per_mtok === null ? null : nanoFromDb(r.cache_write_nano_per_mtok),
        reasoning_nano_per_mtok: r.reasoning_nano_per_mtok === null ? null : nanoFromDb(r.reasoning_nano_per_mtok),
        request_fee_nano: nanoFromDb(r.request_fee_nano),
      });
    }
  }
  const keyIds = [...new Set(events.map((e) => e.key_id))];
  const multipliers = new Map<string, bigint>();
  if (keyIds.length > 0) {
    const rows = await db
      .selectFrom('api_keys as k')
      .innerJoin('groups as g', 'g.id', 'k.group_id')
      .select(['k.id', 'g.price_multiplier_ppm'])
      .where('k.id', 'in', keyIds)
      .execute();
    for (const r of rows) multipliers.set(r.id, nanoFromDb(r.price_multiplier_ppm));
  }

  const out = new Map<string, UsageCharge>();
  for (const e of events) {
    const at = Date.parse(e.occurred_at);
    const priceOf = (channel: string) =>
      inForce(history.get(pairKey(channel, e.model_requested)), at) ??
      inForce(history.get(pairKey(channel, e.model_served)), at) ??
      variantBasePrice(history, channel, e.model_requested, at);
    const price = priceOf(e.channel_id);
    const ppm = multipliers.get(e.key_id) ?? PPM;
    const estimate = BigInt(e.cost_nano);
    const split = e.attempts.filter((a) => a.usage);
    if (split.length > 0) {
      out.set(e.request_id, { amount_nano: chargeAttempts(split, priceOf, ppm), estimate_nano: estimate, price_id: price?.id ?? null, multiplier_ppm: ppm });
      continue;
    }
    const amount = price
      ? chargeNano({ ...e.usage, cache_write_tokens: e.usage.cache_write_input_tokens ?? 0 }, price, ppm)
      : applyMultiplier(estimate, ppm);
    out.set(e.request_id, { amount_nano: amount, estimate_nano: estimate, price_id: price?.id ?? null, multiplier_ppm: ppm });
  }
  return out;
}

/**
 * A request served by several attempts (mid-stream failover): each attempt's
 * delivered tokens at its own channel's price in force (rounded per attempt,
 * as ingress does), the request fee once (the last attempt's); an attempt
 * whose channel has no price in force is charged ingress's estimate for it.
 */
function chargeAttempts(attempts: UsageEventV1['attempts'], priceOf: (channel: string) => PriceVersion | undefined, ppm: bigint): bigint {
  let total = 0n;
  attempts.forEach((a, i) => {
    const p = priceOf(a.channel_id);
    if (!p) total += applyMultiplier(BigInt(a.cost_nano ?? 0), ppm);
    else total += chargeNano({ ...a.usage!, cache_write_tokens: a.usage!.cache_write_input_tokens ?? 0 }, i === attempts.length - 1 ? p : { ...p, request_fee_nano: 0n }, ppm);
  });
  return total;
}

/**
 * `a-b-c-d` → `a-b-c`, `a-b`, `a`: where the base of a model variant
 * (`o4-mini-high`, `claude-sonnet-thinking-2048`) can be.
 */
function dashPrefixes(model: string): string[] {
  const out: string[] = [];
  for (let i = model.lastIndexOf('-'); i > 0; i = model.lastIndexOf('-', i - 1)) out.push(model.slice(0, i));
  return out;
}

/**
 * A model variant (the client sent `o4-mini-high`, ingress routed it to
 * `o4-mini`) is priced as its base: the longest dash-prefix of the requested
 * id priced on the channel that served it. Sound because the catalog only
 * routes priced models, so a requested id without a price of its own on the
 * serving channel can only be a variant of one that has one.
 */
function variantBasePrice(history: Map<string, PriceVersion[]>, channel: string, requested: string, at: number): PriceVersion | undefined {
  for (const base of dashPrefixes(requested)) {
    const p = inForce(history.get(pairKey(channel, base)), at);
    if (p) return p;
  }
  return undefined;
}

/** The first version (newest first) in force at `at`. */
function inForce(versions: PriceVersion[] | undefined, at: number): PriceVersion | undefined {
  return versions?.find((v) => v.effective_from <= at);
}
