import type { UsageAttempt } from '@switchyard/contracts';
import { ChannelStateRegistry, outcomeFromAttempt, type ChannelStats } from '@switchyard/routing';

/** What the book needs of a usage event: from the bus or from a ClickHouse row. */
export interface ObservedRequest {
  request_id: string;
  model_requested: string;
  /** The channel that answered ('' when none did). */
  channel_id: string;
  /** When the request arrived at ingress (epoch ms). */
  occurred_at_ms: number;
  output_tokens: number;
  attempts: readonly UsageAttempt[];
}

export interface ChannelEntry {
  channel_id: string;
  model: string;
  stats: ChannelStats;
}

export interface ClusterChannelBookOptions {
  /** Requests older than this (by occurred_at) are not applied: the state covers recent traffic only. */
  maxAgeMs: number;
  /** Most request ids remembered to drop duplicates (a redelivery, or an event both rebuilt from ClickHouse and consumed). */
  maxRemembered: number;
}

export type ApplyResult = 'applied' | 'duplicate' | 'stale';

/**
 * The router's cluster-wide view of every (channel, public model): every
 * attempt of every request any ingress made, fed into the same live state
 * ingress keeps for itself. Each request is applied once, by request id.
 */
export class ClusterChannelBook {
  readonly states: ChannelStateRegistry;
  private readonly pairs = new Map<string, { channel_id: string; model: string }>();
  /** request id → occurred_at_ms, in insertion order (oldest first). */
  private readonly seen = new Map<string, number>();
  private version = 0;
  /** The catalog's public models (null until the first plan): variants are counted under their base. */
  private catalog: ReadonlySet<string> | null = null;

  constructor(
    private readonly opts: ClusterChannelBookOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.states = new ChannelStateRegistry(now);
  }

  /** Bumped on every applied request: a cheap "did anything change" for publishers. */
  get changes(): number {
    return this.version;
  }

  /** The public models of the current catalog (from each plan). */
  setCatalogModels(models: Iterable<string>): void {
    this.catalog = new Set(models);
  }

  /**
   * The catalog model a request was routed by: `model_requested` itself, or
   * for a model variant (`o4-mini-high`, which ingress routes by `o4-mini`)
   * the longest dash-prefix in the catalog. Before the first catalog is
   * known (the rebuild at start), the requested id as is.
   */
  routedModel(requested: string): string {
    const catalog = this.catalog;
    if (!catalog || catalog.has(requested)) return requested;
    for (let i = requested.lastIndexOf('-'); i > 0; i = requested.lastIndexOf('-', i - 1)) {
      const base = requested.slice(0, i);
      if (catalog.has(base)) return base;
    }
    return requested;
  }

  apply(req: ObservedRequest): ApplyResult {
    const nowMs = this.now();
    if (req.occurred_at_ms < nowMs - this.opts.maxAgeMs) return 'stale';
    if (this.seen.has(req.request_id)) return 'duplicate';
    this.remember(req.request_id, req.occurred_at_ms, nowMs);
    const model = this.routedModel(req.model_requested);
    for (const outcome of attemptOutcomes(req)) {
      const key = `${outcome.channel_id}\u0000${model}`;
      if (!this.pairs.has(key)) this.pairs.set(key, { channel_id: outcome.channel_id, model });
      this.states.observe(outcome.channel_id, model, outcome.outcome);
    }
    this.version += 1;
    return 'applied';
  }

  peek(channelId: string, model: string): ChannelStats | null {
    return this.states.peek(channelId, model);
  }

  /** Every observed pair with its stats, ordered by channel then model. */
  list(): ChannelEntry[] {
    return [...this.pairs.values()]
      .sort((a, b) => (a.channel_id === b.channel_id ? cmp(a.model, b.model) : cmp(a.channel_id, b.channel_id)))
      .map((p) => ({ channel_id: p.channel_id, model: p.model, stats: this.states.peek(p.channel_id, p.model)! }));
  }

  private remember(requestId: string, occurredAtMs: number, nowMs: number): void {
    this.seen.set(requestId, occurredAtMs);
    // Forget ids whose events would be refused as stale anyway, and cap the memory.
    for (const [id, at] of this.seen) {
      if (this.seen.size <= this.opts.maxRemembered && at >= nowMs - this.opts.maxAgeMs) break;
      this.seen.delete(id);
    }
  }
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The outcome of each attempt of a request, timed at when the attempt ended.
 * Output tokens go to the attempt that answered (the last successful attempt
 * on the answering channel), so its tokens/s can be measured.
 */
export function attemptOutcomes(req: ObservedRequest): Array<{ channel_id: string; outcome: ReturnType<typeof outcomeFromAttempt> }> {
  let answering = -1;
  req.attempts.forEach((a, i) => {
    if (a.error_class === null && a.channel_id === req.channel_id) answering = i;
  });
  return req.attempts.map((a, i) => ({
    channel_id: a.channel_id,
    outcome: outcomeFromAttempt(a, req.occurred_at_ms + a.started_after_ms + a.latency_ms, i === answering ? req.output_tokens : undefined),
  }));
}
