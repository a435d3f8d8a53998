import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

/**
 * Runs once before the integration files: makes sure NATS, PostgreSQL and
 * ClickHouse answer (starting or installing them like `npm start` does) and
 * that the test database exists. Each file then resets the state it uses.
 */
export default function setup(): void {
  const dbUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/switchyard_test';
  execFileSync('bash', [resolve(__dirname, '../../deploy/local/ensure-infra.sh')], {
    stdio: 'inherit',
    env: { ...process.env, DATABASE_URL: dbUrl },
  });
}
