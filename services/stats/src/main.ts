// Telemetry before anything else, so every span and log line of the service is covered.
import { telemetry } from './instrument';
import { createLogger } from '@switchyard/telemetry';
import { startStats } from './stats.app';

const logger = createLogger('stats');

async function main(): Promise<void> {
  const stats = await startStats({ logger });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stats shutting down');
    try {
      await stats.close();
      await telemetry.shutdown();
      process.exit(0);
    } catch (e) {
      logger.error({ err: e }, 'stats shutdown failed');
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((e) => {
  logger.fatal({ err: e }, 'stats failed to start');
  process.exit(1);
});
