/**
 * A concurrency limit: at most `limit` tasks run at once, the rest wait in FIFO order.
 * `inFlight` and `peak` let benchmarks check that a limit is kept saturated.
 */
export class Limiter {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  /** The most tasks that were ever running at the same time. */
  peak = 0;

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`concurrency limit must be a positive integer, got ${limit}`);
  }

  get inFlight(): number {
    return this.running;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await task();
    } finally {
      release();
    }
  }

  /** Take a slot (waiting if none is free); call the returned function once to give it back. */
  async acquire(): Promise<() => void> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    this.peak = Math.max(this.peak, this.running);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
      this.waiting.shift()?.();
    };
  }
}
