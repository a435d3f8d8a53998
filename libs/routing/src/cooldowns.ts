/**
 * Channel cooldowns (Retry-After, rate limits): a channel in cooldown is
 * skipped by every plan until the time passes. Pure: the caller passes time.
 */
export class CooldownBook {
  private readonly until = new Map<string, number>();

  constructor(private readonly now: () => number) {}

  /** Puts `key` in cooldown for `ms`; an existing longer cooldown is kept. */
  coolDown(key: string, ms: number): void {
    if (!(Number.isFinite(ms) && ms > 0)) return;
    const t = this.now() + ms;
    if ((this.until.get(key) ?? 0) < t) this.until.set(key, t);
  }

  /** The end of `key`'s cooldown (epoch ms), or null when it is not cooling down. */
  untilMs(key: string): number | null {
    const t = this.until.get(key);
    if (t === undefined) return null;
    if (t <= this.now()) {
      this.until.delete(key);
      return null;
    }
    return t;
  }

  clear(key: string): void {
    this.until.delete(key);
  }
}
