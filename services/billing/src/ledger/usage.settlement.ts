import type { Kysely } from 'kysely';
import type { UsageEventV1 } from '@switchyard/contracts';
import type { DB } from '../db/database';
import { postEntries, type NewEntry } from './ledger.repository';
import { chargeUsageEvents, type UsageCharge } from './usage.pricing';
import { addBookedToLeases } from '../leases/lease.repository';

export type SettleOutcome =
  /** Booked now; the balance moved by the cost. */
  | { request_id: string; status: 'settled'; amount_nano: bigint; balance_after_nano: bigint }
  /** Booked now, but the account has no balance row: no balance moved. */
  | { request_id: string; status: 'no_balance'; amount_nano: bigint }
  /** Already in the ledger (redelivery or duplicate publish): nothing changed. */
  | { request_id: string; status: 'duplicate' };

/**
 * The ledger row of a usage event: a debit of billing's authoritative charge
 * (ingress's `cost_nano` when no charge is given), even when it is 0 (the
 * request happened). Ingress's estimate is kept in `estimate_nano`.
 */
export function usageToEntry(event: UsageEventV1, charge?: UsageCharge): NewEntry {
  return {
    request_id: event.request_id,
    kind: 'usage',
    key_id: event.key_id,
    amount_nano: -(charge?.amount_nano ?? BigInt(event.cost_nano)),
    estimate_nano: BigInt(event.cost_nano),
    price_id: charge?.price_id ?? null,
    price_multiplier_ppm: charge?.multiplier_ppm ?? null,
    model: event.model_served || event.model_requested,
    channel_id: event.channel_id || null,
    input_tokens: event.usage.input_tokens,
    output_tokens: event.usage.output_tokens,
    cached_input_tokens: event.usage.cached_input_tokens,
    reasoning_tokens: event.usage.reasoning_tokens,
    trace_id: event.trace_id,
    occurred_at: event.occurred_at,
  };
}

/**
 * Settles a batch of usage events in ONE transaction: every event's ledger row
 * and balance move commit together or not at all, and each request id is
 * booked at most once (see `postEntries`). Accounts are processed in sorted
 * order, so two billing replicas settling overlapping batches lock balance
 * rows in the same order and cannot deadlock. Within an account, events are
 * booked in occurrence order. Duplicates inside the batch count once.
 */
export async function settleUsageBatch(db: Kysely<DB>, events: readonly UsageEventV1[]): Promise<Map<string, SettleOutcome>> {
  const byAccount = new Map<string, UsageEventV1[]>();
  const seen = new Set<string>();
  for (const e of events) {
    if (seen.has(e.request_id)) continue;
    seen.add(e.request_id);
    let list = byAccount.get(e.account_id);
    if (!list) byAccount.set(e.account_id, (list = []));
    list.push(e);
  }
  const accounts = [...byAccount.keys()].sort();
  const outcomes = new Map<string, SettleOutcome>();

  await db.transaction().execute(async (trx) => {
    const charges = await chargeUsageEvents(trx, [...byAccount.values()].flat());
    // Debits booked now under spend leases (positive nano-USD): each lease stops reserving them, in the same transaction.
    const leaseBooked = new Map<string, bigint>();
    for (const account of accounts) {
      const list = byAccount.get(account)!;
      list.sort((a, b) => Date.parse(a.occurred_at) - Date.parse(b.occurred_at) || (a.request_id < b.request_id ? -1 : 1));
      const result = await postEntries(trx, account, list.map((e) => usageToEntry(e, charges.get(e.request_id))));
      for (const e of list) {
        const after = result.posted.get(e.request_id);
        const amount = -charges.get(e.request_id)!.amount_nano;
        if (after === undefined) outcomes.set(e.request_id, { request_id: e.request_id, status: 'duplicate' });
        else if (after === null) outcomes.set(e.request_id, { request_id: e.request_id, status: 'no_balance', amount_nano: amount });
        else outcomes.set(e.request_id, { request_id: e.request_id, status: 'settled', amount_nano: amount, balance_after_nano: after });
        if (after !== undefined && e.lease_ids) for (const id of e.lease_ids) leaseBooked.set(id, (leaseBooked.get(id) ?? 0n) - amount);
      }
    }
    await addBookedToLeases(trx, leaseBooked);
  });
  return outcomes;
}
