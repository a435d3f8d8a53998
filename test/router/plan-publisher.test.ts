import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kvm, type KV } from '@nats-io/kv';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats, type NatsConnection } from '@switchyard/bus';
import { CATALOG_SUBJECT, PLAN_KEY, routingPlanV1Schema, type CatalogReply } from '@switchyard/contracts';
import { createLogger } from '@switchyard/telemetry';
import { testInfraUrls } from '@switchyard/testkit';
import { PlanPublisher } from '../../services/router/src/plan.publisher';

const catalog: CatalogReply = {
  channels: [
    {
      id: 'fresh',
      provider: 'openai',
      base_url: 'http://127.0.0.1:9/v1',
      priority: 1,
      weight: 1,
      enabled: true,
      models: [{ model: 'gpt-4o-mini', upstream_model: 'gpt-4o-mini', price: { input_nano_per_mtok: 1, output_nano_per_mtok: 1, cached_input_nano_per_mtok: 1 } }],
    },
  ],
};

let nc: NatsConnection;
let kv: KV;
const bucket = `switchyard_plans_publisher_test_${process.pid}`;

beforeAll(async () => {
  nc = await connectNats(testInfraUrls().natsUrl, 'plan-publisher-test');
  kv = await new Kvm(nc).create(bucket, { history: 1 });
});
afterAll(async () => {
  await (await jetstreamManager(nc)).streams.delete(`KV_${bucket}`).catch(() => false);
  await nc.drain();
});

describe('the router plan publisher', () => {
  it('started before billing answers, publishes the catalog within seconds of billing coming up, not a refresh period later', async () => {
    // A stale plan from an earlier run is in the bucket.
    await kv.put(PLAN_KEY, JSON.stringify({ schema: 'plan.v1', version: 1, generated_at: new Date(0).toISOString(), models: {} }));
    const publisher = new PlanPublisher(nc, kv, createLogger('plan-publisher-test', 'silent'), 60_000);
    await publisher.start(); // no catalog responder yet: the refresh fails
    expect(publisher.healthy).toBe(false);
    const sub = nc.subscribe(CATALOG_SUBJECT);
    void (async () => {
      for await (const m of sub) m.respond(JSON.stringify(catalog));
    })();
    try {
      const t0 = Date.now();
      let models: string[] = [];
      while (Date.now() - t0 < 5_000) {
        const e = await kv.get(PLAN_KEY);
        const parsed = e?.value?.length ? routingPlanV1Schema.safeParse(e.json()) : undefined;
        models = parsed?.success ? Object.keys(parsed.data.models) : [];
        if (models.length > 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(models).toEqual(['gpt-4o-mini']);
      expect(Date.now() - t0).toBeLessThan(3_000);
      expect(publisher.healthy).toBe(true);
    } finally {
      sub.unsubscribe();
      publisher.stop();
    }
  });
});
