import { describe, expect, it } from 'vitest';
import { collectFetch } from './usage-consumer';

async function* fetchOf(msgs: string[], endsWith?: Error): AsyncGenerator<string> {
  for (const m of msgs) yield m;
  if (endsWith) throw endsWith;
}

describe('collectFetch', () => {
  it('keeps the messages a fetch gave before it failed, with the error', async () => {
    const error = new Error('heartbeats missed');
    expect(await collectFetch(fetchOf(['a', 'b'], error))).toEqual({ batch: ['a', 'b'], error });
  });

  it('gives the error alone when the fetch failed before any message', async () => {
    const error = new Error('consumer not found');
    expect(await collectFetch(fetchOf([], error))).toEqual({ batch: [], error });
  });

  it('gives every message of a fetch that ended normally', async () => {
    expect(await collectFetch(fetchOf(['a', 'b', 'c']))).toEqual({ batch: ['a', 'b', 'c'] });
  });
});
