import { describe, expect, it } from 'vitest';
import { refreshTokenSha256, type OAuthRotatedRequest } from '@switchyard/contracts';
import { RotationWriteBack, type RotationHolder } from './oauth-rotation.write-back';
import type { UnsavedRotation } from './oauth-token.source';

/** A token source's rotation bookkeeping: billing holds `stored`, the source presents `current`. */
function holder(stored: string, current: string) {
  const h = {
    stored,
    current,
    unsaved: (): UnsavedRotation | null => (h.stored === h.current ? null : { from: h.stored, to: h.current }),
    saved: (r: UnsavedRotation) => {
      if (h.stored === r.from) h.stored = r.to;
    },
  };
  return h satisfies RotationHolder;
}

function logs() {
  const lines: Array<{ level: string; obj: Record<string, unknown>; msg: string }> = [];
  return {
    lines,
    log: {
      info: (obj: Record<string, unknown>, msg: string) => lines.push({ level: 'info', obj, msg }),
      warn: (obj: Record<string, unknown>, msg: string) => lines.push({ level: 'warn', obj, msg }),
    },
  };
}

const noWait = () => Promise.resolve();

describe('RotationWriteBack', () => {
  it('hands billing the new refresh token with the hash of the one it replaces', async () => {
    const sent: OAuthRotatedRequest[] = [];
    const wb = new RotationWriteBack({ send: async (r) => (sent.push(r), 'stored'), sleep: noWait });
    const h = holder('rt-0', 'rt-1');
    wb.push('ch', h);
    await wb.idle();
    expect(sent).toEqual([{ channel_id: 'ch', expected_refresh_token_sha256: refreshTokenSha256('rt-0'), refresh_token: 'rt-1' }]);
    expect(h.unsaved()).toBeNull();
  });

  it('while billing is unreachable it retries with backoff, then stores the latest rotation over the token billing holds', async () => {
    const sent: OAuthRotatedRequest[] = [];
    const waits: number[] = [];
    const h = holder('rt-0', 'rt-1');
    let down = 2;
    const wb = new RotationWriteBack({
      send: async (r) => {
        sent.push(r);
        if (down-- > 0) {
          h.current = `rt-${sent.length + 1}`; // the endpoint rotated again meanwhile
          throw Object.assign(new Error('503'), { name: 'NoRespondersError' });
        }
        return 'stored';
      },
      retryDelaysMs: [10, 20, 40],
      sleep: async (ms) => void waits.push(ms),
    });
    wb.push('ch', h);
    wb.push('ch', h); // already running: picked up by the same loop
    await wb.idle();
    expect(waits).toEqual([10, 20]);
    expect(sent.map((r) => r.expected_refresh_token_sha256)).toEqual([refreshTokenSha256('rt-0'), refreshTokenSha256('rt-0'), refreshTokenSha256('rt-0')]);
    expect(sent.at(-1)!.refresh_token).toBe('rt-3');
    expect(h.stored).toBe('rt-3');
  });

  it('gives up after the bounded retries, logging the channel and never a token', async () => {
    const l = logs();
    let calls = 0;
    const wb = new RotationWriteBack({
      send: async () => {
        calls++;
        throw Object.assign(new Error('timeout rt-1'), { name: 'TimeoutError' });
      },
      retryDelaysMs: [1, 1],
      sleep: noWait,
      log: l.log,
    });
    const h = holder('rt-secret-0', 'rt-secret-1');
    wb.push('ch', h);
    await wb.idle();
    expect(calls).toBe(3);
    expect(h.unsaved()).toEqual({ from: 'rt-secret-0', to: 'rt-secret-1' });
    expect(l.lines).toEqual([{ level: 'warn', obj: { channel_id: 'ch', attempts: 3, err: 'TimeoutError' }, msg: expect.stringMatching(/gave up/) }]);
    expect(JSON.stringify(l.lines)).not.toMatch(/rt-secret|rt-1/);
    // A later push starts over.
    wb.push('ch', h);
    await wb.idle();
    expect(calls).toBe(6);
  });

  it('a stale write is not retried: the channel’s grant is fetched again instead', async () => {
    const stale: string[] = [];
    let calls = 0;
    const wb = new RotationWriteBack({ send: async () => (calls++, 'stale'), sleep: noWait, onStale: (c) => stale.push(c) });
    const h = holder('rt-0', 'rt-1');
    wb.push('ch', h);
    await wb.idle();
    expect(calls).toBe(1);
    expect(stale).toEqual(['ch']);
    expect(h.stored).toBe('rt-0');
  });
});
