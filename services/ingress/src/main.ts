import { startTelemetry } from '@switchyard/telemetry';
// Telemetry starts before anything else is loaded.
const telemetry = startTelemetry({ serviceName: 'ingress' });

import { startIngress } from './ingress.app';

async function main() {
  const ingress = await startIngress();
  process.stdout.write(JSON.stringify({ service: 'ingress', msg: 'listening', url: ingress.url }) + '\n');
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    // Stop taking requests, finish in-flight ones, flush usage, then exit.
    await ingress.close();
    await telemetry.shutdown();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((e) => {
  process.stderr.write(`ingress failed to start: ${(e as Error).stack}\n`);
  process.exit(1);
});
