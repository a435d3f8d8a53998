import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { AdminNotifier } from './admin.commands';

/** Sends notices over an existing connection; a flush confirms the server has them. */
export function connectionNotifier(nc: NatsConnection, flushTimeoutMs = 2_000): AdminNotifier {
  return {
    async publish(subject, payload) {
      try {
        nc.publish(subject, JSON.stringify(payload));
        await Promise.race([
          nc.flush(),
          new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer from NATS within ${flushTimeoutMs} ms`)), flushTimeoutMs).unref()),
        ]);
        return { sent: true };
      } catch (e) {
        return { sent: false, reason: (e as Error).message };
      }
    },
  };
}

/**
 * For the CLI: connects on the first notice only, gives up fast (no
 * reconnect loop) when NATS is down, and reports that instead of failing the
 * command — the database change is what matters; the router also refreshes
 * on a timer.
 */
export class LazyNatsNotifier implements AdminNotifier {
  private nc: Promise<NatsConnection> | undefined;

  constructor(
    private readonly url: string,
    private readonly timeoutMs = 2_000,
  ) {}

  async publish(subject: string, payload: unknown) {
    let nc: NatsConnection;
    try {
      this.nc ??= connect({ servers: this.url.split(','), name: 'switchyard-admin', timeout: this.timeoutMs, maxReconnectAttempts: 0 });
      nc = await this.nc;
    } catch (e) {
      return { sent: false as const, reason: `NATS unreachable at ${this.url}: ${(e as Error).message}` };
    }
    return connectionNotifier(nc, this.timeoutMs).publish(subject, payload);
  }

  async close(): Promise<void> {
    const nc = await this.nc?.catch(() => undefined);
    await nc?.drain().catch(() => undefined);
  }
}
