import { describe, expect, it } from 'vitest';
import type { PlanCandidate } from '@switchyard/contracts';
import { ChannelHealthBook, type AttemptReport } from './channel-health.book';

const candidate: PlanCandidate = {
  channel_id: 'a',
  provider: 'openai',
  base_url: 'http://127.0.0.1:9/a',
  upstream_model: 'm',
  priority: 1,
  weight: 1,
  price: { input_nano_per_mtok: 1, output_nano_per_mtok: 1, cached_input_nano_per_mtok: 0 },
};

function setup() {
  let t = 1_000_000;
  const book = new ChannelHealthBook({ breaker: { openMs: 60_000, earlyProbeMs: 10_000 }, disableMs: 600_000, rateLimitCooldownMs: 10_000 }, () => t);
  const end = (r: Partial<AttemptReport>) => book.end({ candidate, model: 'm', status: 200, errorClass: null, ttftMs: 50, latencyMs: 80, ...r });
  const fail = (earlyProbe = false) => end({ status: 503, errorClass: 'transient', earlyProbe });
  /** Five failures in a row: the breaker opens. */
  const open = () => {
    for (let i = 0; i < 5; i++) {
      book.begin(candidate, 'm');
      fail();
    }
  };
  return { book, end, fail, open, advance: (ms: number) => (t += ms) };
}

describe('ChannelHealthBook early probes', () => {
  it('admits an open channel only as its early probe, once due, one at a time', () => {
    const { book, open, advance } = setup();
    open();
    expect(book.begin(candidate, 'm')).toBe(false);
    expect(book.begin(candidate, 'm', true)).toBe(false);
    advance(10_000);
    expect(book.health('a', 'm').breaker?.early_probe_available).toBe(true);
    expect(book.begin(candidate, 'm', true)).toBe(true);
    expect(book.begin(candidate, 'm', true)).toBe(false);
    expect(book.inFlightOf('a')).toBe(1);
  });

  it('a failed early probe keeps it open; a successful one half-opens it, and on closing the outage stops weighing on its score', () => {
    const { book, end, fail, open, advance } = setup();
    open();
    advance(10_000);
    book.begin(candidate, 'm', true);
    fail(true);
    expect(book.health('a', 'm').breaker?.state).toBe('open');
    advance(10_000);
    book.begin(candidate, 'm', true);
    end({ earlyProbe: true });
    expect(book.health('a', 'm').breaker?.state).toBe('half_open');
    expect(book.health('a', 'm').stats?.window_failures).toBe(6);
    expect(book.begin(candidate, 'm')).toBe(true);
    end({});
    const h = book.health('a', 'm');
    expect(h.breaker?.state).toBe('closed');
    expect(h.stats?.window_failures).toBe(0);
    expect(h.stats?.window_successes).toBe(2);
    expect(h.stats?.failures).toBe(6);
  });

  it('an aborted early probe (lost, client gone) says nothing: the next is due an interval after it started', () => {
    const { book, end, open, advance } = setup();
    open();
    advance(10_000);
    book.begin(candidate, 'm', true);
    end({ status: 0, errorClass: 'cancelled', earlyProbe: true });
    expect(book.health('a', 'm').breaker?.state).toBe('open');
    expect(book.begin(candidate, 'm', true)).toBe(false);
    advance(10_000);
    expect(book.begin(candidate, 'm', true)).toBe(true);
  });
});
