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
    // A released slot passes straight to the first waiter: were it freed and taken back only when
    // the waiter resumes (a microtask later), a task acquiring in between would take it too, and
    // a limit of 1 (a llama.cpp model's one sequence) would run two tasks at once.
    if (this.running < this.limit) this.running++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.peak = Math.max(this.peak, this.running);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    };
  }
}
