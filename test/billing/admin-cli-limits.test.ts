import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import type { NatsConnection } from '@nats-io/transport-node';
import { KEY_CHANGED_SUBJECT } from '@switchyard/contracts';
import type { DB } from '../../services/billing/src/db/database';
import { runAdmin, EXIT_BAD_INPUT, EXIT_OK } from '../../services/billing/src/admin.program';
import { findKeyWithGroupById } from '../../services/billing/src/keys/api-keys.repository';
import { hashApiKey } from '../../services/billing/src/keys/api-key';
import { adminDeps, connectTestNats, freshBillingDb } from '../support/billing';

describe('admin CLI: groups, key limits, rotation, full prices', () => {
  let db: Kysely<DB>;
  let nc: NatsConnection;

  const cli = async (...argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runAdmin(argv, adminDeps(db, nc), { stdout: (l) => out.push(l), stderr: (l) => err.push(l) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };

  beforeAll(async () => {
    nc = await connectTestNats();
  });
  beforeEach(async () => {
    await db?.destroy();
    db = await freshBillingDb();
    expect((await cli('create-account', '--id', 'acme', '--balance-usd', '5')).code).toBe(EXIT_OK);
  });
  afterAll(async () => {
    await db?.destroy();
    await nc?.drain();
  });

  it('creates a group, a key with limits, updates and clears limits, and rotates the key', async () => {
    const g = await cli('create-group', '--id', 'vip', '--price-multiplier', '0.8', '--models', 'gpt-4o*');
    expect(g).toMatchObject({ code: EXIT_OK });
    expect(g.out).toContain('created group vip ("vip"): price ×0.8, models gpt-4o*');

    const k = await cli('create-key', '--account', 'acme', '--name', 'ci', '--group', 'vip', '--rpm', '60', '--budget-usd-per-day', '2.5', '--json');
    expect(k.code).toBe(EXIT_OK);
    const created = JSON.parse(k.out) as { id: string; key: string };
    let row = (await findKeyWithGroupById(db, created.id))!;
    expect(row).toMatchObject({ group_id: 'vip', rpm: 60, budget_nano_per_day: '2500000000', group_multiplier_ppm: '800000' });

    const u = await cli('update-key', '--id', created.id, '--rpm', 'none', '--tpm', '1000', '--route-mode', 'fast');
    expect(u.code).toBe(EXIT_OK);
    expect(u.out).toContain('rpm -, tpm 1000');
    row = (await findKeyWithGroupById(db, created.id))!;
    expect(row).toMatchObject({ rpm: null, tpm: 1000, route_mode: 'fast', budget_nano_per_day: '2500000000' });

    const changed = nc.subscribe(KEY_CHANGED_SUBJECT, { max: 1, timeout: 5_000 });
    const r = await cli('rotate-key', '--id', created.id, '--json');
    expect(r.code).toBe(EXIT_OK);
    const rotated = JSON.parse(r.out) as { key: string };
    for await (const m of changed) expect(m.json()).toEqual({ key_hash: hashApiKey(created.key), key_id: created.id });
    row = (await findKeyWithGroupById(db, created.id))!;
    expect(row.key_hash).toBe(hashApiKey(rotated.key));
    expect(row.rotated_at).not.toBeNull();
  });

  it('stores cache-write, reasoning and request-fee prices', async () => {
    await cli('create-channel', '--id', 'fast', '--provider', 'openai', '--base-url', 'http://127.0.0.1:9/v1', '--model', 'm1');
    const p = await cli('set-price', '--channel', 'fast', '--model', 'm1', '--input-usd-per-mtok', '3', '--output-usd-per-mtok', '15', '--cache-write-usd-per-mtok', '3.75', '--reasoning-usd-per-mtok', '20', '--request-fee-usd', '0.001');
    expect(p.code).toBe(EXIT_OK);
    expect(await db.selectFrom('prices').select(['cache_write_nano_per_mtok', 'reasoning_nano_per_mtok', 'request_fee_nano']).executeTakeFirstOrThrow()).toEqual({
      cache_write_nano_per_mtok: '3750000000',
      reasoning_nano_per_mtok: '20000000000',
      request_fee_nano: '1000000',
    });
  });

  it.each([
    [['create-group', '--id', 'g', '--price-multiplier', '1.0000001'], /price-multiplier/],
    [['create-key', '--account', 'acme', '--name', 'k', '--group', 'nope'], /unknown group "nope"/],
    [['create-key', '--account', 'acme', '--name', 'k', '--tpm', '-3'], /--tpm/],
    [['update-key', '--id', 'key_nope', '--rpm', '5'], /unknown key/],
    [['update-key', '--id', 'key_x', '--route-mode', 'has space'], /--route-mode/],
  ])('refuses %j with exit 2 and writes nothing', async (argv, message) => {
    const before = JSON.stringify([await db.selectFrom('api_keys').selectAll().execute(), await db.selectFrom('groups').selectAll().execute()]);
    const r = await cli(...argv);
    expect(r.code).toBe(EXIT_BAD_INPUT);
    expect(r.err).toMatch(message);
    expect(JSON.stringify([await db.selectFrom('api_keys').selectAll().execute(), await db.selectFrom('groups').selectAll().execute()])).toBe(before);
  });
});
