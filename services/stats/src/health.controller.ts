import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { NatsConnection } from '@switchyard/bus';
import type { ClickHouseClient } from '@switchyard/clickhouse';
import { CLICKHOUSE, NATS } from './stats.tokens';

const CHECK_TIMEOUT_MS = 2_000;

async function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

type CheckState = 'ok' | 'down';

@Controller()
export class HealthController {
  constructor(
    @Inject(CLICKHOUSE) private readonly clickhouse: ClickHouseClient,
    @Inject(NATS) private readonly nc: NatsConnection,
  ) {}

  /** Liveness: the process answers. */
  @Get('healthz')
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Readiness: ClickHouse answers its ping and the NATS connection round-trips. */
  @Get('readyz')
  async readyz(
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<{ status: 'ok' | 'unavailable'; clickhouse: CheckState; nats: CheckState }> {
    const [clickhouse, nats] = await Promise.all([this.checkClickHouse(), this.checkNats()]);
    const ready = clickhouse === 'ok' && nats === 'ok';
    if (!ready) reply.status(503);
    return { status: ready ? 'ok' : 'unavailable', clickhouse, nats };
  }

  private async checkClickHouse(): Promise<CheckState> {
    try {
      const r = await within(CHECK_TIMEOUT_MS, this.clickhouse.ping());
      return r.success ? 'ok' : 'down';
    } catch {
      return 'down';
    }
  }

  private async checkNats(): Promise<CheckState> {
    if (this.nc.isClosed()) return 'down';
    try {
      await within(CHECK_TIMEOUT_MS, this.nc.flush());
      return 'ok';
    } catch {
      return 'down';
    }
  }
}
