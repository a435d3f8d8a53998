import { defineConfig } from 'vitest/config';
import swc from 'unplugin-swc';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('.', import.meta.url));

// Tests import libraries from source, so `npm test` needs no build for unit
// tests; SWC keeps Nest's decorator metadata, which esbuild would drop.
const libs = ['contracts', 'config', 'telemetry', 'bus', 'clickhouse', 'pricing', 'routing', 'providers', 'fake-provider', 'testkit', 'metrics'];
const alias = Object.fromEntries(libs.map((l) => [`@switchyard/${l}`, resolve(root, `libs/${l}/src/index.ts`)]));

export default defineConfig({
  plugins: [swc.vite({ module: { type: 'es6' } })],
  resolve: { alias },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['libs/*/src/**/*.spec.ts', 'services/*/src/**/*.spec.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          // Integration files share one NATS, Postgres and ClickHouse: run them one at a time.
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 120_000,
          globalSetup: ['test/support/global-setup.ts'],
          env: {
            DATABASE_URL: process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/switchyard_test',
            CLICKHOUSE_URL: process.env.CLICKHOUSE_URL ?? 'http://127.0.0.1:8123',
            CLICKHOUSE_DATABASE: process.env.TEST_CLICKHOUSE_DATABASE ?? 'switchyard_test',
            NATS_URL: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
            LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
          },
        },
      },
    ],
  },
});
