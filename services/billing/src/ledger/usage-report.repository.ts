import { sql } from 'kysely';
import type { Db } from '../db/database';
import { countFromDb, nanoFromDb } from '../money';

/** Nano-USD spent (usage debits, as a positive number) by a key since `since`. */
export async function spentByKeySince(db: Db, keyId: string, since: Date): Promise<bigint> {
  const row = await db
    .selectFrom('ledger')
    .select(sql<string>`coalesce(-sum(amount_nano), 0)`.as('spent'))
    .where('kind', '=', 'usage')
    .where('key_id', '=', keyId)
    .where('occurred_at', '>=', since)
    .executeTakeFirstOrThrow();
  return nanoFromDb(row.spent);
}

export interface UsageByDayModel {
  day: string;
  model: string;
  requests: number;
  input_tokens: number;
  output_tokens: number;
  cached_input_tokens: number;
  reasoning_tokens: number;
  cost_nano: bigint;
}

/** An account's usage in [from, to) per UTC day and model, from the ledger. */
export async function usageByDayAndModel(db: Db, accountId: string, from: Date, to: Date): Promise<UsageByDayModel[]> {
  const day = sql<string>`to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD')`;
  const rows = await db
    .selectFrom('ledger')
    .select([
      day.as('day'),
      sql<string>`coalesce(model, '')`.as('model'),
      sql<string>`count(*)`.as('requests'),
      sql<string>`sum(input_tokens)`.as('input_tokens'),
      sql<string>`sum(output_tokens)`.as('output_tokens'),
      sql<string>`sum(cached_input_tokens)`.as('cached_input_tokens'),
      sql<string>`sum(reasoning_tokens)`.as('reasoning_tokens'),
      sql<string>`-sum(amount_nano)`.as('cost_nano'),
    ])
    .where('kind', '=', 'usage')
    .where('account_id', '=', accountId)
    .where('occurred_at', '>=', from)
    .where('occurred_at', '<', to)
    .groupBy([sql`1`, sql`2`])
    .orderBy(sql`1`)
    .orderBy(sql`2`)
    .execute();
  return rows.map((r) => ({
    day: r.day,
    model: r.model,
    requests: countFromDb(r.requests),
    input_tokens: countFromDb(r.input_tokens),
    output_tokens: countFromDb(r.output_tokens),
    cached_input_tokens: countFromDb(r.cached_input_tokens),
    reasoning_tokens: countFromDb(r.reasoning_tokens),
    cost_nano: nanoFromDb(r.cost_nano),
  }));
}

export function startOfUtcDay(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
}

export function startOfUtcMonth(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
}
