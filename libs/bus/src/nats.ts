import { connect, type NatsConnection } from '@nats-io/transport-node';

/** One connection per process; reconnects forever so a NATS restart is survived. */
export async function connectNats(url: string, name: string): Promise<NatsConnection> {
  return connect({
    servers: url.split(','),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    waitOnFirstConnect: true,
  });
}
