import { loadConnectionConfig } from '@switchyard/config';
import { LazyNatsNotifier } from './admin.notifier';
import { runAdmin } from './admin.program';
import { createDb } from './db/database';

/** `npm run admin -- <command> ...`: a thin shell over admin.commands.ts. */
async function main(): Promise<number> {
  const conn = loadConnectionConfig();
  const db = createDb(conn.databaseUrl, { max: 2 });
  const notifier = new LazyNatsNotifier(conn.natsUrl);
  try {
    return await runAdmin(process.argv.slice(2), { db, notifier }, {
      stdout: (l) => process.stdout.write(l + '\n'),
      stderr: (l) => process.stderr.write(l + '\n'),
    });
  } finally {
    await notifier.close();
    await db.destroy().catch(() => undefined);
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: Error) => {
    process.stderr.write(`error: ${e.message}\n`);
    process.exitCode = 1;
  },
);
