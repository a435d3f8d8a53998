/**
 * Runs a fake upstream as a process (OpenAI by default):
 *
 *   node libs/fake-provider/dist/main.js --port 9001 [--host 0.0.0.0] [--protocol openai|anthropic|gemini]
 *     [--behavior '{"ttftMs":200,"chunks":50,"chunkDelayMs":10}']
 *     [--api-key sk-test] [--seed 42] [--models gpt-4o-mini,gpt-4o] [--record]
 *
 * Environment: FAKE_PROVIDER_PORT, FAKE_PROVIDER_HOST, FAKE_PROVIDER_BEHAVIOR,
 * FAKE_PROVIDER_API_KEY, FAKE_PROVIDER_SEED, FAKE_PROVIDER_PROTOCOL (flags win).
 * Prints one JSON line `{"url":"http://127.0.0.1:9001/v1"}` when listening (the
 * base URL the protocol's SDK takes: the origin for Anthropic and Gemini); closes on SIGINT/SIGTERM.
 * Requests are not recorded by default (a long run would only grow memory);
 * counters are served at GET /_fake/stats.
 */
import { startFakeOpenAI, type FakeProvider, type FakeOpenAIOptions } from './fake-openai.server';
import { startFakeAnthropic } from './fake-anthropic.server';
import { startFakeGemini } from './fake-gemini.server';
import { parseBehaviorHeader } from './script';

const FLAGS = new Set(['port', 'host', 'behavior', 'api-key', 'seed', 'models', 'record', 'protocol']);
const STARTERS: Record<string, (o: FakeOpenAIOptions) => Promise<FakeProvider>> = { openai: startFakeOpenAI, anthropic: startFakeAnthropic, gemini: startFakeGemini };
const BOOLEAN_FLAGS = new Set(['record']);

function parseArgs(argv: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new Error(`unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    if (!FLAGS.has(name)) throw new Error(`unknown flag --${name}`);
    if (eq !== -1) out.set(name, arg.slice(eq + 1));
    else if (BOOLEAN_FLAGS.has(name)) out.set(name, 'true');
    else if (i + 1 < argv.length) out.set(name, argv[++i]);
    else throw new Error(`--${name} needs a value`);
  }
  return out;
}

function toInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${value}"`);
  return n;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const env = process.env;
  const behaviorJson = args.get('behavior') ?? env.FAKE_PROVIDER_BEHAVIOR;
  const models = args.get('models');
  const protocol = args.get('protocol') ?? env.FAKE_PROVIDER_PROTOCOL ?? 'openai';
  const start = STARTERS[protocol];
  if (!start) throw new Error(`--protocol must be one of ${Object.keys(STARTERS).join(', ')}, got "${protocol}"`);
  const fake = await start({
    port: toInt('port', args.get('port') ?? env.FAKE_PROVIDER_PORT) ?? 9001,
    host: args.get('host') ?? env.FAKE_PROVIDER_HOST ?? '127.0.0.1',
    behavior: behaviorJson ? parseBehaviorHeader(behaviorJson) : undefined,
    requireApiKey: args.get('api-key') ?? env.FAKE_PROVIDER_API_KEY ?? undefined,
    seed: toInt('seed', args.get('seed') ?? env.FAKE_PROVIDER_SEED),
    models: models ? models.split(',').map((m) => m.trim()).filter(Boolean) : undefined,
    recordRequests: args.get('record') === 'true',
  });
  process.stdout.write(JSON.stringify({ url: fake.url }) + '\n');

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    fake.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`fake-provider: close failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`fake-provider: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
