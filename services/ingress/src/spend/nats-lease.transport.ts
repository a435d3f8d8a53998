import type { NatsConnection } from '@nats-io/transport-node';
import { SPEND_LEASE_SUBJECT, leaseReplySchema, type LeaseReply, type LeaseRequest } from '@switchyard/contracts';
import type { LeaseTransport } from './lease-book';

/** Lease requests to billing over NATS request-reply; a service-error reply (empty body) or a timeout throws. */
export class NatsLeaseTransport implements LeaseTransport {
  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs: number,
  ) {}

  async request(req: LeaseRequest): Promise<LeaseReply> {
    const msg = await this.nc.request(SPEND_LEASE_SUBJECT, JSON.stringify(req), { timeout: this.timeoutMs });
    if (msg.data.length === 0) throw new Error(`billing refused the lease request: ${msg.headers?.get('Nats-Service-Error') || 'empty reply'}`);
    return leaseReplySchema.parse(msg.json());
  }
}
