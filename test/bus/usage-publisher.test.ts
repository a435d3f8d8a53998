import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connectNats, ensureUsageTopology, UsagePublisher, type NatsConnection } from '@switchyard/bus';
import { USAGE_STREAM, type UsageEventV1 } from '@switchyard/contracts';
import { freePort, waitForHttp } from '@switchyard/testkit';

// A private nats-server, so the test can stop NATS without disturbing anything else.
let port: number;
let monitorPort: number;
let dir: string;
let server: ChildProcess | undefined;

async function startNats() {
  server = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port), '-m', String(monitorPort), '-js', '-sd', dir], { stdio: 'ignore' });
  await waitForHttp(`http://127.0.0.1:${monitorPort}/healthz`, 10_000);
}
async function stopNats() {
  const s = server!;
  const gone = new Promise((r) => s.once('exit', r));
  s.kill('SIGKILL');
  await gone;
}

function event(i: number): UsageEventV1 {
  return {
    schema: 'usage.v1',
    request_id: `req-${i}`,
    occurred_at: new Date().toISOString(),
    trace_id: null,
    key_id: 'k',
    account_id: 'a',
    model_requested: 'm',
    model_served: 'm',
    channel_id: 'c',
    provider: 'openai',
    route_mode: 'priority',
    stream: false,
    status: 'ok',
    http_status: 200,
    error_class: null,
    attempts: [],
    usage: { input_tokens: 1, output_tokens: 1, cached_input_tokens: 0, reasoning_tokens: 0 },
    usage_estimated: false,
    ttft_ms: null,
    latency_ms: 1,
    tokens_per_second: null,
    price: { input_nano_per_mtok: 0, output_nano_per_mtok: 0, cached_input_nano_per_mtok: 0 },
    cost_nano: 0,
  };
}

async function streamCount(nc: NatsConnection): Promise<number> {
  const jsm = await jetstreamManager(nc);
  return (await jsm.streams.info(USAGE_STREAM)).state.messages;
}

beforeAll(async () => {
  port = await freePort();
  monitorPort = await freePort();
  dir = mkdtempSync(join(tmpdir(), 'sy-nats-'));
  await startNats();
});

afterAll(async () => {
  if (server && server.exitCode === null) await stopNats();
  rmSync(dir, { recursive: true, force: true });
});

describe('usage publisher', () => {
  it('deduplicates a re-published event by its request id', async () => {
    const nc = await connectNats(`nats://127.0.0.1:${port}`, 'test');
    await ensureUsageTopology(await jetstreamManager(nc));
    const pub = new UsagePublisher(nc);
    pub.publish(event(1));
    pub.publish(event(1));
    expect(await pub.flush()).toBe(true);
    expect(await streamCount(nc)).toBe(1);
    await nc.close();
  });

  it('keeps events while NATS is down and delivers each once when it is back', async () => {
    const nc = await connectNats(`nats://127.0.0.1:${port}`, 'test');
    const pub = new UsagePublisher(nc, { retryMs: 100 });
    const before = await streamCount(nc);
    await stopNats();
    for (let i = 100; i < 150; i++) pub.publish(event(i));
    await new Promise((r) => setTimeout(r, 500));
    const pendingWhileDown = pub.stats.pending;
    await startNats();
    expect(pendingWhileDown).toBe(50);
    expect(await pub.flush(20_000)).toBe(true);
    expect(await streamCount(nc)).toBe(before + 50);
    const js = jetstream(nc);
    const c = await js.consumers.get(USAGE_STREAM);
    const ids = new Set<string>();
    const it = await c.fetch({ max_messages: 100, expires: 2000 });
    for await (const m of it) ids.add((m.json() as UsageEventV1).request_id);
    for (let i = 100; i < 150; i++) expect(ids.has(`req-${i}`)).toBe(true);
    await nc.close();
  });

  it('refuses an invalid event at the producer', async () => {
    const nc = await connectNats(`nats://127.0.0.1:${port}`, 'test');
    const pub = new UsagePublisher(nc);
    expect(() => pub.publish({ ...event(9), cost_nano: 1.5 })).toThrow(/invalid/);
    await nc.close();
  });

  it('holds at most the configured number of events and counts the rest as dropped', async () => {
    const nc = await connectNats(`nats://127.0.0.1:${port}`, 'test');
    const pub = new UsagePublisher(nc, { maxSpooled: 3, retryMs: 100 });
    await stopNats();
    for (let i = 200; i < 210; i++) pub.publish(event(i));
    const { pending, dropped } = pub.stats;
    await startNats();
    expect(pending).toBeLessThanOrEqual(3);
    expect(dropped).toBeGreaterThanOrEqual(7);
    await pub.flush(20_000);
    await nc.close();
  });

  it('spills to disk past the memory bound and at shutdown, and a new process replays it exactly once', async () => {
    const spoolDir = mkdtempSync(join(tmpdir(), 'sy-spool-'));
    try {
      const nc = await connectNats(`nats://127.0.0.1:${port}`, 'test');
      const before = await streamCount(nc);
      await stopNats();
      const pub = new UsagePublisher(nc, { maxSpooled: 10, spoolDir, retryMs: 100 });
      for (let i = 300; i < 350; i++) pub.publish(event(i));
      expect(pub.stats.spilledToDisk).toBe(40);
      expect(pub.stats.dropped).toBe(0);
      // Shut down while NATS is still down: the 10 in memory go to disk too.
      await pub.close(300);
      await nc.close();
      expect(readdirSync(spoolDir).length).toBeGreaterThan(0);

      await startNats();
      const nc2 = await connectNats(`nats://127.0.0.1:${port}`, 'test');
      const pub2 = new UsagePublisher(nc2, { spoolDir });
      expect(await pub2.flush(20_000)).toBe(true);
      expect(await streamCount(nc2)).toBe(before + 50);
      expect(readdirSync(spoolDir)).toEqual([]);
      await pub2.close();
      await nc2.close();
    } finally {
      if (server && server.exitCode !== null) await startNats();
      rmSync(spoolDir, { recursive: true, force: true });
    }
  });
});
