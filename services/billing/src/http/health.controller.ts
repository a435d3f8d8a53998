import { Controller, Get, HttpException, Inject } from '@nestjs/common';
import { sql, type Kysely } from 'kysely';
import type { NatsConnection } from '@nats-io/transport-node';
import type { DB } from '../db/database';
import { DATABASE, NATS } from '../billing.tokens';

const CHECK_TIMEOUT_MS = 2_000;

function withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

@Controller()
export class HealthController {
  constructor(
    @Inject(DATABASE) private readonly db: Kysely<DB>,
    @Inject(NATS) private readonly nc: NatsConnection,
  ) {}

  /** The process is up. */
  @Get('healthz')
  health() {
    return { status: 'ok' };
  }

  /** Postgres answers a query and NATS answers a round trip. */
  @Get('readyz')
  async ready() {
    const [db, nats] = await Promise.allSettled([
      withTimeout(sql`select 1`.execute(this.db), 'postgres'),
      this.nc.isClosed() ? Promise.reject(new Error('nats connection closed')) : withTimeout(this.nc.rtt(), 'nats'),
    ]);
    const checks = {
      db: db.status === 'fulfilled' ? 'ok' : db.reason instanceof Error ? db.reason.message : 'failed',
      nats: nats.status === 'fulfilled' ? 'ok' : nats.reason instanceof Error ? nats.reason.message : 'failed',
    };
    if (checks.db !== 'ok' || checks.nats !== 'ok') throw new HttpException({ status: 'not ready', checks }, 503);
    return { status: 'ready', checks };
  }
}
