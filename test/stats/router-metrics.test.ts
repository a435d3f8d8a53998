import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats, type NatsConnection } from '@switchyard/bus';
import { CATALOG_CHANGED_SUBJECT, CATALOG_SUBJECT, type CatalogReply } from '@switchyard/contracts';
import { ServiceProcess, freePort, resetInfrastructure, testInfraUrls } from '@switchyard/testkit';
import { waitFor } from './helpers';

// The router's /metrics: plan version and publishes, catalog refresh errors.
// The router runs from its build as a child process against this test's NATS;
// the test answers the catalog requests billing would answer.

let nc: NatsConnection;
let router: ServiceProcess;
let catalog: CatalogReply | 'fail';
let sub: ReturnType<NatsConnection['subscribe']>;

const channel = (id: string, model: string) => ({
  id,
  provider: 'openai' as const,
  base_url: 'http://127.0.0.1:9/v1',
  priority: 1,
  weight: 1,
  enabled: true,
  models: [
    { model, upstream_model: model, price: { input_nano_per_mtok: 150_000_000, output_nano_per_mtok: 600_000_000, cached_input_nano_per_mtok: 0 } },
  ],
});

function value(body: string, name: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(`${name}{service="router"} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}
const scrape = async () => (await fetch(`${router.url}/metrics`)).text();

beforeAll(async () => {
  const urls = testInfraUrls();
  await resetInfrastructure(urls);
  nc = await connectNats(urls.natsUrl, 'router-metrics-test');
  catalog = { channels: [channel('fast', 'gpt-4o-mini')] };
  sub = nc.subscribe(CATALOG_SUBJECT);
  void (async () => {
    for await (const m of sub) {
      if (catalog !== 'fail') m.respond(JSON.stringify(catalog));
      // 'fail': no answer, the router's request times out like when billing is down.
    }
  })();
  const port = await freePort();
  router = new ServiceProcess('router', port, { NATS_URL: urls.natsUrl, ROUTER_PORT: String(port), ROUTER_REFRESH_MS: '600000' });
  await router.start();
});
afterAll(async () => {
  await router?.stop();
  sub?.unsubscribe();
  await nc?.drain();
});

describe('router /metrics', () => {
  it('shows the plan in force, counts publishes only when routing changed, and counts failed catalog refreshes', async () => {
    const first = await scrape();
    const plan = (await (await fetch(`${router.url}/v1/router/plan`)).json()) as { version: number };
    expect(value(first, 'switchyard_routing_plan_version')).toBe(plan.version);
    expect(value(first, 'switchyard_routing_plan_publishes_total')).toBe(1);
    expect(value(first, 'switchyard_routing_plan_models')).toBe(1);
    expect(value(first, 'switchyard_catalog_refresh_errors_total')).toBe(0);
    expect(first).toContain('process_resident_memory_bytes');

    // Same catalog again: no new plan.
    nc.publish(CATALOG_CHANGED_SUBJECT, '{}');
    await new Promise((r) => setTimeout(r, 500));
    expect(value(await scrape(), 'switchyard_routing_plan_publishes_total')).toBe(1);

    // A second model: a new plan with a newer version.
    catalog = { channels: [channel('fast', 'gpt-4o-mini'), channel('big', 'gpt-4o')] };
    nc.publish(CATALOG_CHANGED_SUBJECT, '{}');
    const second = await waitFor('the second plan', async () => {
      const s = await scrape();
      return value(s, 'switchyard_routing_plan_publishes_total') === 2 ? s : undefined;
    });
    expect(value(second, 'switchyard_routing_plan_models')).toBe(2);
    expect(value(second, 'switchyard_routing_plan_version')!).toBeGreaterThan(plan.version);

    // Billing stops answering: the refresh fails and is counted; the plan stays.
    catalog = 'fail';
    nc.publish(CATALOG_CHANGED_SUBJECT, '{}');
    const third = await waitFor(
      'a refresh error',
      async () => {
        const s = await scrape();
        return value(s, 'switchyard_catalog_refresh_errors_total') === 1 ? s : undefined;
      },
      15_000,
    );
    expect(value(third, 'switchyard_routing_plan_models')).toBe(2);
    expect(value(third, 'switchyard_routing_plan_publishes_total')).toBe(2);
  });
});
