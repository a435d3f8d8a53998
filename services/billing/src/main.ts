import { startTelemetry } from '@switchyard/telemetry';
// Telemetry starts before anything else is loaded.
// It patches `pg` (Postgres spans), so it must run before start-billing loads it.
const telemetry = startTelemetry({ serviceName: 'billing', instrument: ['pg'] });

import { startBilling } from './start-billing';

async function main() {
  const billing = await startBilling({ telemetry, shutdownHooks: true });
  process.stdout.write(JSON.stringify({ service: 'billing', msg: 'listening', url: billing.url, port: billing.port }) + '\n');
}

main().catch((e) => {
  process.stderr.write(`billing failed to start: ${(e as Error).stack}\n`);
  void telemetry.shutdown().finally(() => process.exit(1));
});
