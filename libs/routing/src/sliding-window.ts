/**
 * Success/failure counts over the last `windowMs`, kept in a ring of
 * `ceil(windowMs / bucketMs)` time buckets. Memory is fixed; a bucket is
 * reset lazily the first time it is touched in a new epoch, so an idle
 * channel needs no timer.
 */
export interface WindowCounts {
  successes: number;
  failures: number;
}

export class SlidingWindowCounter {
  private readonly bucketMs: number;
  private readonly epochs: number[];
  private readonly ok: number[];
  private readonly fail: number[];

  constructor(windowMs: number, bucketMs: number) {
    if (!(bucketMs > 0) || !(windowMs >= bucketMs)) throw new RangeError(`window ${windowMs} ms must be ≥ bucket ${bucketMs} ms > 0`);
    this.bucketMs = bucketMs;
    const n = Math.ceil(windowMs / bucketMs);
    this.epochs = new Array<number>(n).fill(-1);
    this.ok = new Array<number>(n).fill(0);
    this.fail = new Array<number>(n).fill(0);
  }

  /** Records one outcome at `atMs`; outcomes older than the window are ignored. */
  record(success: boolean, atMs: number, nowMs: number): void {
    const epoch = Math.floor(atMs / this.bucketMs);
    const current = Math.floor(nowMs / this.bucketMs);
    if (!Number.isFinite(epoch) || epoch <= current - this.epochs.length || epoch > current) return;
    const i = ((epoch % this.epochs.length) + this.epochs.length) % this.epochs.length;
    if (this.epochs[i] !== epoch) {
      this.epochs[i] = epoch;
      this.ok[i] = 0;
      this.fail[i] = 0;
    }
    if (success) this.ok[i]! += 1;
    else this.fail[i]! += 1;
  }

  /** Totals over the buckets still inside the window at `nowMs`. */
  counts(nowMs: number): WindowCounts {
    const current = Math.floor(nowMs / this.bucketMs);
    let successes = 0;
    let failures = 0;
    for (let i = 0; i < this.epochs.length; i++) {
      const e = this.epochs[i]!;
      if (e > current - this.epochs.length && e <= current) {
        successes += this.ok[i]!;
        failures += this.fail[i]!;
      }
    }
    return { successes, failures };
  }

  /** Drops the failures in the window, keeping its successes. */
  clearFailures(): void {
    this.fail.fill(0);
  }

  reset(): void {
    this.epochs.fill(-1);
    this.ok.fill(0);
    this.fail.fill(0);
  }
}
