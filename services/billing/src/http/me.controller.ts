import { Controller, Get, Headers, Inject, Query } from '@nestjs/common';
import type { Kysely } from 'kysely';
import { nanoToUsd } from '@switchyard/pricing';
import { DATABASE } from '../billing.tokens';
import type { DB } from '../db/database';
import { hashApiKey } from '../keys/api-key';
import { findKeyWithGroupByHash, toKeySnapshot, type KeyWithGroup } from '../keys/api-keys.repository';
import { findBalanceNano } from '../accounts/accounts.repository';
import { spentByKeySince, startOfUtcDay, startOfUtcMonth, usageByDayAndModel } from '../ledger/usage-report.repository';
import { apiError, bearer, toJson } from './http-errors';

const MAX_RANGE_MS = 366 * 86_400_000;

/**
 * What a user may see with their own API key (the sha256 is looked up; a
 * revoked, expired or unknown key is a 401 like at ingress).
 */
@Controller('v1/me')
export class MeController {
  constructor(@Inject(DATABASE) private readonly db: Kysely<DB>) {}

  private async key(auth: string | undefined): Promise<KeyWithGroup> {
    const token = bearer(auth);
    if (!token) throw apiError(401, 'missing API key: send Authorization: Bearer <your key>', 'invalid_request_error', 'missing_api_key');
    const key = await findKeyWithGroupByHash(this.db, hashApiKey(token));
    if (!key || key.revoked_at || (key.expires_at && key.expires_at.getTime() <= Date.now())) {
      throw apiError(401, 'invalid, revoked or expired API key', 'invalid_request_error', 'invalid_api_key');
    }
    return key;
  }

  /** The key's limits and what is left of its budgets today and this month (UTC). */
  @Get('key')
  async keyInfo(@Headers('authorization') auth: string | undefined) {
    const key = await this.key(auth);
    const now = new Date();
    const [today, month] = await Promise.all([spentByKeySince(this.db, key.id, startOfUtcDay(now)), spentByKeySince(this.db, key.id, startOfUtcMonth(now))]);
    const snap = toKeySnapshot(key);
    const remaining = (budget: number | null | undefined, spent: bigint) => (budget == null ? null : BigInt(budget) - spent > 0n ? BigInt(budget) - spent : 0n);
    return toJson({
      ...snap,
      key_prefix: key.key_prefix,
      spent_nano_today: today,
      spent_nano_this_month: month,
      remaining_nano_today: remaining(snap.budget_nano_per_day, today),
      remaining_nano_this_month: remaining(snap.budget_nano_per_month, month),
    });
  }

  @Get('balance')
  async balance(@Headers('authorization') auth: string | undefined) {
    const key = await this.key(auth);
    const balance = (await findBalanceNano(this.db, key.account_id)) ?? 0n;
    return toJson({ account_id: key.account_id, balance_nano: balance, balance_usd: nanoToUsd(balance) });
  }

  /** The account's usage per UTC day and model in [from, to) (default: the last 30 days). */
  @Get('usage')
  async usage(@Headers('authorization') auth: string | undefined, @Query('from') fromQ?: string, @Query('to') toQ?: string) {
    const key = await this.key(auth);
    const to = toQ === undefined ? new Date() : parseDate(toQ, 'to');
    const from = fromQ === undefined ? new Date(to.getTime() - 30 * 86_400_000) : parseDate(fromQ, 'from');
    if (from >= to) throw apiError(400, 'from must be before to', 'invalid_request_error', 'invalid_value');
    if (to.getTime() - from.getTime() > MAX_RANGE_MS) throw apiError(400, 'the range may span at most 366 days', 'invalid_request_error', 'invalid_value');
    const rows = await usageByDayAndModel(this.db, key.account_id, from, to);
    return toJson({ account_id: key.account_id, from: from.toISOString(), to: to.toISOString(), usage: rows });
  }
}

function parseDate(v: string, name: string): Date {
  const ms = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(v) ? Date.parse(v) : NaN;
  if (Number.isNaN(ms)) throw apiError(400, `${name} must be an ISO-8601 date or time (got "${v}")`, 'invalid_request_error', 'invalid_value');
  return new Date(ms);
}
