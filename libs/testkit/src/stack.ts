import { execFile } from 'node:child_process';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { BILLING_CONSUMER, STATS_CONSUMER, USAGE_STREAM } from '@switchyard/contracts';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports';
import { resetInfrastructure, testInfraUrls, type InfraUrls } from './reset';
import { REPO_ROOT, ServiceProcess, type ServiceName } from './service-process';

const execFileP = promisify(execFile);

export interface StackChannel {
  id: string;
  /** openai (default), anthropic, gemini, azure-openai or openai-compatible. */
  provider?: string;
  baseUrl: string;
  apiKey?: string;
  priority?: number;
  models: Array<{ model: string; upstream?: string; inputUsdPerMtok: string; outputUsdPerMtok: string; cachedInputUsdPerMtok?: string; cacheWriteUsdPerMtok?: string }>;
  /** More create-channel flags, e.g. `['--api-version', '2024-10-21']` or the `--oauth-*` flags. */
  extraArgs?: string[];
}

export interface StackOptions {
  channels: StackChannel[];
  accountId?: string;
  balanceUsd?: string;
  /** Extra env per service, e.g. short upstream timeouts for ingress. */
  env?: Partial<Record<ServiceName, Record<string, string>>>;
  /** Reset Postgres, ClickHouse and NATS state first (default true). */
  reset?: boolean;
  urls?: InfraUrls;
}

export interface Stack {
  urls: InfraUrls;
  /** The environment every service of this stack was started with (plus its own port). */
  env: Record<string, string>;
  ingressUrl: string;
  apiKey: string;
  accountId: string;
  services: Record<ServiceName, ServiceProcess>;
  admin(args: string[]): Promise<string>;
  /**
   * What the services and the usage consumers look like now, as text for a
   * test that timed out waiting on them: which services run (or how they
   * ended) with their last log lines, and per durable consumer of the usage
   * stream what was delivered, acknowledged, pending and redelivered.
   */
  diagnose(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * The four services as real processes from their builds, on free ports,
 * against the real NATS, PostgreSQL and ClickHouse, seeded through the admin
 * CLI with an account, a key and the given channels. Used by end-to-end tests
 * and benchmarks.
 */
export async function startStack(opts: StackOptions): Promise<Stack> {
  const urls = opts.urls ?? testInfraUrls();
  if (opts.reset !== false) await resetInfrastructure(urls);
  const common = {
    NATS_URL: urls.natsUrl,
    DATABASE_URL: urls.databaseUrl,
    CLICKHOUSE_URL: urls.clickhouseUrl,
    CLICKHOUSE_DATABASE: urls.clickhouseDatabase,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    ROUTER_REFRESH_MS: '1000',
    // A fixed test key for channel credentials at rest (32 bytes, base64).
    SWITCHYARD_CREDENTIAL_KEY: process.env.SWITCHYARD_CREDENTIAL_KEY ?? Buffer.alloc(32, 7).toString('base64'),
  };
  const admin = async (args: string[]): Promise<string> => {
    try {
      const { stdout } = await execFileP(process.execPath, [resolve(REPO_ROOT, 'services/billing/dist/admin.cli.js'), ...args], {
        cwd: REPO_ROOT,
        env: { ...process.env, ...common },
      });
      return stdout;
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`admin ${args[0]} failed: ${err.stderr || err.message}`);
    }
  };
  const make = async (name: ServiceName, portVar: string) => {
    const port = await freePort();
    return new ServiceProcess(name, port, { ...common, [portVar]: String(port), ...(opts.env?.[name] ?? {}) });
  };
  const services = {
    billing: await make('billing', 'BILLING_PORT'),
    stats: await make('stats', 'STATS_PORT'),
    router: await make('router', 'ROUTER_PORT'),
    ingress: await make('ingress', 'INGRESS_PORT'),
  };
  const started: ServiceProcess[] = [];
  const stop = async () => {
    for (const s of [...started].reverse()) await s.stop();
  };
  try {
    await services.billing.start();
    started.push(services.billing);
    const accountId = opts.accountId ?? 'acme';
    await admin(['create-account', '--id', accountId, '--balance-usd', opts.balanceUsd ?? '100.00']);
    for (const ch of opts.channels) {
      const args = ['create-channel', '--id', ch.id, '--provider', ch.provider ?? 'openai', '--base-url', ch.baseUrl, '--priority', String(ch.priority ?? 1)];
      if (ch.apiKey) args.push('--api-key', ch.apiKey);
      if (ch.extraArgs) args.push(...ch.extraArgs);
      for (const m of ch.models) args.push('--model', m.upstream ? `${m.model}=${m.upstream}` : m.model);
      await admin(args);
      for (const m of ch.models) {
        const price = ['set-price', '--channel', ch.id, '--model', m.model, '--input-usd-per-mtok', m.inputUsdPerMtok, '--output-usd-per-mtok', m.outputUsdPerMtok];
        if (m.cachedInputUsdPerMtok) price.push('--cached-input-usd-per-mtok', m.cachedInputUsdPerMtok);
        if (m.cacheWriteUsdPerMtok) price.push('--cache-write-usd-per-mtok', m.cacheWriteUsdPerMtok);
        await admin(price);
      }
    }
    const keyOut = JSON.parse(await admin(['create-key', '--account', accountId, '--name', 'test', '--json'])) as { key: string };
    for (const name of ['stats', 'router', 'ingress'] as const) {
      await services[name].start();
      started.push(services[name]);
    }
    const diagnose = () => describeStack(urls.natsUrl, services);
    return { urls, env: common, ingressUrl: services.ingress.url, apiKey: keyOut.key, accountId, services, admin, diagnose, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

const LOG_LINES_SHOWN = 15;

async function describeStack(natsUrl: string, services: Record<ServiceName, ServiceProcess>): Promise<string> {
  const lines: string[] = [];
  for (const s of Object.values(services)) {
    lines.push(`${s.name}: ${s.exited ? `exited (${s.exitedWith ?? 'unknown'})` : `running, pid ${s.pid}`}`);
    for (const l of s.logs().split('\n').filter(Boolean).slice(-LOG_LINES_SHOWN)) lines.push(`  ${l}`);
  }
  try {
    const nc = await connect({ servers: natsUrl, timeout: 2_000 });
    try {
      const jsm = await jetstreamManager(nc);
      const { state } = await jsm.streams.info(USAGE_STREAM);
      lines.push(`${USAGE_STREAM}: ${state.messages} messages, seq ${state.first_seq}..${state.last_seq}`);
      for (const durable of [STATS_CONSUMER, BILLING_CONSUMER]) {
        const c = await jsm.consumers.info(USAGE_STREAM, durable).catch((e: Error) => e);
        lines.push(
          c instanceof Error
            ? `consumer ${durable}: ${c.message}`
            : `consumer ${durable}: delivered up to seq ${c.delivered.stream_seq}, acked up to seq ${c.ack_floor.stream_seq}, ` +
                `${c.num_pending} not yet delivered, ${c.num_ack_pending} awaiting ack, ${c.num_redelivered} redelivered, ${c.num_waiting} pulls waiting`,
        );
      }
    } finally {
      await nc.close();
    }
  } catch (e) {
    lines.push(`usage stream: ${(e as Error).message}`);
  }
  return lines.join('\n');
}
