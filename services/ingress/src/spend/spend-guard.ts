import type { PlanCandidate, PriceSnapshot, TokenUsage } from '@switchyard/contracts';
import { nanoToUsd } from '@switchyard/pricing';
import type { ResolvedKey } from '../auth/key-cache';
import { GatewayError } from '../errors/gateway-error';
import { budgetPeriods, type LeaseBook, type SpendHold, type SpendScope } from './lease-book';
import { settledCostNano, worstCaseNano } from './spend-cost';

export interface SpendConfig {
  /** Enforce balances and key budgets (INGRESS_SPEND_LEASES). */
  enabled: boolean;
  /** Allowance asked from billing at a time, nano-USD. */
  sliceNano: bigint;
  /** Output tokens assumed for the worst case when the request sets no max_tokens. */
  defaultMaxOutputTokens: number;
  /** After billing had nothing more, requests that do not fit are refused without asking for this long. */
  refusalBackoffMs: number;
}

/** What the worst case of one request is made of. */
export interface SpendEstimate {
  /** An upper bound on the prompt's tokens. */
  inputTokens: number;
  /** The request's output cap per choice (max_tokens), or null for the default cap. */
  maxOutputTokens: number | null;
  /** Choices generated (n): each may reach the cap. */
  choices: number;
}

const PPM = 1_000_000;

/**
 * Holds a request's worst-case cost against its account's balance and its
 * key's budgets before any upstream is called, and settles the hold to the
 * real cost when the request's books close. 402 insufficient_quota when the
 * money or a budget is not there; 503 when billing cannot be asked and the
 * local allowance does not cover the request (never served unbounded).
 */
export class SpendGuard {
  constructor(
    private readonly book: LeaseBook | null,
    readonly config: SpendConfig,
    /** Told of each refusal (metrics). */
    private readonly onRefusal?: (reason: 'insufficient_balance' | 'budget_exceeded' | 'unavailable') => void,
  ) {}

  /** The hold for a request, or null when leases are off or it cannot cost anything. */
  async holdOrThrow(key: ResolvedKey, candidates: readonly PlanCandidate[], est: SpendEstimate, at: Date): Promise<SpendHold | null> {
    if (!this.book || !this.config.enabled) return null;
    const maxOut = (est.maxOutputTokens ?? this.config.defaultMaxOutputTokens) * Math.max(1, est.choices);
    const ppm = key.price_multiplier_ppm ?? PPM;
    let worst = 0n;
    for (const c of candidates) {
      const w = worstCaseNano(c.price, est.inputTokens, maxOut, ppm);
      if (w > worst) worst = w;
    }
    if (worst === 0n) return null;
    const scopes: SpendScope[] = [{ scope: 'account', accountId: key.account_id, keyId: null, period: null }];
    const periods = budgetPeriods(at);
    if (key.budget_nano_per_day != null) scopes.push({ scope: 'key_day', accountId: key.account_id, keyId: key.key_id, period: periods.day });
    if (key.budget_nano_per_month != null) scopes.push({ scope: 'key_month', accountId: key.account_id, keyId: key.key_id, period: periods.month });
    const r = await this.book.hold(scopes, worst);
    if (r.ok) return r.hold;
    this.onRefusal?.(r.reason);
    if (r.reason === 'unavailable') {
      throw new GatewayError('dependency_unavailable', {
        message: 'The billing service cannot be reached to check this account’s balance; try again shortly.',
        code: 'billing_unavailable',
        retryable: true,
      });
    }
    if (r.reason === 'insufficient_balance') {
      throw new GatewayError('insufficient_quota', {
        message: `You exceeded your current quota: the account's balance does not cover this request (up to $${nanoToUsd(worst)} with max_tokens ${maxOut}). Add funds to your account, or lower max_tokens.`,
        code: 'insufficient_quota',
      });
    }
    const day = r.scope.scope === 'key_day';
    const budget = day ? key.budget_nano_per_day : key.budget_nano_per_month;
    throw new GatewayError('insufficient_quota', {
      message: `This API key has reached its ${day ? 'daily' : 'monthly'} budget of $${nanoToUsd(budget ?? 0)} (UTC ${day ? 'day' : 'month'} ${r.scope.period}); this request could cost up to $${nanoToUsd(worst)}. The budget resets at the start of the next UTC ${day ? 'day' : 'month'}.`,
      code: day ? 'daily_budget_exceeded' : 'monthly_budget_exceeded',
    });
  }

  /** Settles to the real cost (0 when nothing was billed), exactly once. */
  settle(hold: SpendHold, key: ResolvedKey, usage: TokenUsage | null, price: PriceSnapshot | null): void {
    if (!this.book) return;
    const cost = usage && price ? settledCostNano(usage, price, key.price_multiplier_ppm ?? PPM) : 0n;
    this.book.settle(hold, cost);
  }

  async close(): Promise<void> {
    await this.book?.close();
  }
}

/** The request body's byte length, an upper bound on its prompt tokens (a token is at least one byte). */
export function inputTokensUpperBound(contentLength: string | undefined, fallbackChars: number): number {
  const n = contentLength ? Number(contentLength) : NaN;
  return Number.isSafeInteger(n) && n > 0 ? n : Math.max(0, fallbackChars) * 4;
}

/** A positive integer field, or null. */
export function positiveInt(v: unknown): number | null {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : null;
}
