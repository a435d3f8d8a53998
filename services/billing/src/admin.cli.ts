import { loadConnectionConfig } from '@switchyard/config';
import { LazyNatsNotifier } from './admin.notifier';
import { runAdmin } from './admin.program';
import { createDb } from './db/database';
import { createClickHouseClient, type ClickHouseClient } from '@switchyard/clickhouse';
import { parseCredentialKey } from './crypto/credential-cipher';

/** `npm run admin -- <command> ...`: a thin shell over admin.commands.ts. */
async function main(): Promise<number> {
  const conn = loadConnectionConfig();
  const db = createDb(conn.databaseUrl, { max: 2 });
  const notifier = new LazyNatsNotifier(conn.natsUrl);
  let ch: ClickHouseClient | undefined;
  const clickhouse = () => (ch ??= createClickHouseClient({ url: conn.clickhouseUrl, database: conn.clickhouseDatabase }));
  try {
    const credentialKey = parseCredentialKey(process.env.SWITCHYARD_CREDENTIAL_KEY);
    return await runAdmin(process.argv.slice(2), { db, notifier, credentialKey, clickhouse }, {
      stdout: (l) => process.stdout.write(l + '\n'),
      stderr: (l) => process.stderr.write(l + '\n'),
    });
  } finally {
    await notifier.close();
    await ch?.close().catch(() => undefined);
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
