import { describe, expect, it } from 'vitest';
import type { LeaseReply, LeaseRequest, PlanCandidate } from '@switchyard/contracts';
import type { ResolvedKey } from '../auth/key-cache';
import { GatewayError } from '../errors/gateway-error';
import { LeaseBook, type LeaseTransport } from './lease-book';
import { SpendGuard, type SpendConfig } from './spend-guard';

const CONFIG: SpendConfig = { enabled: true, sliceNano: 1_000_000_000n, defaultMaxOutputTokens: 1_000, refusalBackoffMs: 1_000 };

function candidate(id: string, input: number, output: number): PlanCandidate {
  return {
    channel_id: id,
    provider: 'openai',
    base_url: 'http://127.0.0.1:1/v1',
    upstream_model: 'm',
    priority: 1,
    weight: 1,
    price: { input_nano_per_mtok: input, output_nano_per_mtok: output, cached_input_nano_per_mtok: input },
  };
}

function key(overrides: Partial<ResolvedKey> = {}): ResolvedKey {
  return { key_id: 'k1', account_id: 'acme', name: 'k', models: ['*'], revoked: false, expires_at: null, allowsModel: () => true, ...overrides };
}

/** Grants up to a limit per scope; remembers what was asked. */
class Billing implements LeaseTransport {
  readonly asked: LeaseRequest[] = [];
  constructor(private readonly limits: Record<string, number>) {}
  async request(req: LeaseRequest): Promise<LeaseReply> {
    this.asked.push(req);
    const add = Math.min(req.want_nano, this.limits[req.scope] ?? 0);
    this.limits[req.scope] = (this.limits[req.scope] ?? 0) - add;
    return { lease_id: req.lease_id, status: 'granted', granted_nano: add, added_nano: add, ttl_ms: 30_000, limit_nano: null };
  }
}

function guard(limits: Record<string, number>, transport?: LeaseTransport) {
  const billing = new Billing(limits);
  const book = new LeaseBook(transport ?? billing, { replicaId: 'r', sliceNano: CONFIG.sliceNano, refusalBackoffMs: 1_000 });
  return { billing, guard: new SpendGuard(book, CONFIG) };
}

const AT = new Date('2026-11-26T12:00:00Z');

describe('SpendGuard', () => {
  it('holds the worst case at the dearest candidate: input bound + max_tokens × n at the output price, × the group multiplier', async () => {
    const { guard: g } = guard({ account: 10_000_000_000 });
    const hold = await g.holdOrThrow(key({ price_multiplier_ppm: 1_500_000 }), [candidate('cheap', 1_000_000, 2_000_000), candidate('dear', 3_000_000, 10_000_000)], { inputTokens: 100, maxOutputTokens: 50, choices: 2 }, AT);
    // (100 × 3 + 100 × 10) nano × 1.5 = 1,950 nano
    expect(hold!.parts[0]!.amount).toBe(1_950n);
  });

  it('uses the default output cap when the request sets none', async () => {
    const { guard: g } = guard({ account: 10_000_000_000 });
    const hold = await g.holdOrThrow(key(), [candidate('c', 0, 1_000_000)], { inputTokens: 0, maxOutputTokens: null, choices: 1 }, AT);
    expect(hold!.parts[0]!.amount).toBe(1_000n);
  });

  it('holds against the account and each budget the key has, for the request’s UTC day and month', async () => {
    const { billing, guard: g } = guard({ account: 10_000_000_000, key_day: 10_000_000_000, key_month: 10_000_000_000 });
    const hold = await g.holdOrThrow(key({ budget_nano_per_day: 5, budget_nano_per_month: 50 }), [candidate('c', 1_000_000, 1_000_000)], { inputTokens: 1, maxOutputTokens: 1, choices: 1 }, AT);
    expect(hold!.leaseIds).toHaveLength(3);
    expect(billing.asked.map((r) => [r.scope, r.period])).toEqual([
      ['account', null],
      ['key_day', '2026-11-26'],
      ['key_month', '2026-11'],
    ]);
  });

  it('402 insufficient_quota when the balance does not cover it', async () => {
    const { guard: g } = guard({ account: 10 });
    const err = await g.holdOrThrow(key(), [candidate('c', 1_000_000, 1_000_000)], { inputTokens: 10, maxOutputTokens: 10, choices: 1 }, AT).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect(err).toMatchObject({ status: 402, kind: 'insufficient_quota', code: 'insufficient_quota' });
  });

  it('402 daily_budget_exceeded naming the budget and the UTC day', async () => {
    const { guard: g } = guard({ account: 10_000_000_000, key_day: 5 });
    const err = (await g.holdOrThrow(key({ budget_nano_per_day: 2_500_000_000 }), [candidate('c', 1_000_000, 1_000_000)], { inputTokens: 10, maxOutputTokens: 10, choices: 1 }, AT).catch((e: unknown) => e)) as GatewayError;
    expect(err).toMatchObject({ status: 402, code: 'daily_budget_exceeded' });
    expect(err.message).toContain('daily budget of $2.50 (UTC day 2026-11-26)');
  });

  it('503 billing_unavailable when billing cannot be asked and nothing is leased', async () => {
    const { guard: g } = guard({}, { request: () => Promise.reject(new Error('no responders')) });
    const err = await g.holdOrThrow(key(), [candidate('c', 1_000_000, 1_000_000)], { inputTokens: 1, maxOutputTokens: 1, choices: 1 }, AT).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 503, code: 'billing_unavailable' });
  });

  it('holds nothing when disabled or when the request cannot cost anything', async () => {
    const off = new SpendGuard(null, { ...CONFIG, enabled: false });
    expect(await off.holdOrThrow(key(), [candidate('c', 1, 1)], { inputTokens: 1, maxOutputTokens: 1, choices: 1 }, AT)).toBeNull();
    const { guard: g } = guard({ account: 0 });
    expect(await g.holdOrThrow(key(), [candidate('free', 0, 0)], { inputTokens: 1_000, maxOutputTokens: 1_000, choices: 1 }, AT)).toBeNull();
  });
});
