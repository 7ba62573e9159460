/** Thrown when both every slot and the waiting queue are taken. */
export class QueueFullError extends Error {
  constructor() {
    super('queue full');
    this.name = 'QueueFullError';
  }
}

/**
 * At most `concurrency` tasks run at once, at most `queueLimit` wait; past that, run()
 * rejects at once with QueueFullError. This keeps a login flood from stacking up unbounded
 * CPU-heavy hashes (and memory) behind each other.
 */
export class BoundedSemaphore {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  private readonly concurrency: number;
  private readonly queueLimit: number;

  constructor(limits: { concurrency: number; queueLimit: number }) {
    this.concurrency = limits.concurrency;
    this.queueLimit = limits.queueLimit;
  }

  get active(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Whether run() would be refused right now (every slot and the whole queue taken). */
  get full(): boolean {
    return this.running >= this.concurrency && this.waiting.length >= this.queueLimit;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.queueLimit) throw new QueueFullError();
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running += 1;
    }
    try {
      return await task();
    } finally {
      // Hand the slot straight to the next waiter, so `running` never drops and re-rises.
      const next = this.waiting.shift();
      if (next) next();
      else this.running -= 1;
    }
  }
}
