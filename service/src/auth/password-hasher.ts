import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';
import { busy } from '../errors.ts';
import type { Metrics } from '../infra/metrics.ts';
import { BoundedSemaphore, QueueFullError } from './bounded-semaphore.ts';

export interface Argon2Params {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

/**
 * argon2id hashing behind a bounded queue. Every verify, including the decoy verify for
 * unknown users, goes through the same queue and costs the same, so timing does not tell
 * whether an account exists.
 */
export class PasswordHasher {
  private readonly semaphore: BoundedSemaphore;
  private decoyHash: Promise<string> | undefined;

  private readonly params: Argon2Params;
  private readonly metrics: Metrics;

  constructor(deps: { params: Argon2Params; limits: { concurrency: number; queueLimit: number }; metrics: Metrics }) {
    this.params = deps.params;
    this.metrics = deps.metrics;
    this.semaphore = new BoundedSemaphore(deps.limits);
  }

  hash(password: string): Promise<string> {
    return this.queued('hash', () => argon2.hash(password, { type: argon2.argon2id, ...this.params }));
  }

  /** False for a wrong password and for a malformed stored hash (never throws for those). */
  verify(hash: string, password: string): Promise<boolean> {
    return this.queued('verify', async () => {
      try {
        return await argon2.verify(hash, password);
      } catch {
        return false;
      }
    });
  }

  /**
   * Refuses at once (503 busy) when a hash could not even be queued now: a login flood's excess
   * is turned away before it costs a throttle round trip, a user lookup or a log line, so the
   * hashing capacity goes to the logins that can be served.
   */
  assertCapacity(): void {
    if (!this.semaphore.full) return;
    this.metrics.hashRejected.inc();
    throw busy();
  }

  /** Computes the decoy hash up front, so the first unknown-user login is not slower. */
  async warmUp(): Promise<void> {
    this.decoyHash ??= argon2.hash(randomBytes(32).toString('base64'), { type: argon2.argon2id, ...this.params });
    await this.decoyHash;
  }

  /**
   * Burns the same work as verify() against a hash with the current parameters, for
   * usernames that do not exist. Always false.
   */
  async verifyDecoy(password: string): Promise<false> {
    await this.warmUp();
    await this.verify((await this.decoyHash)!, password);
    return false;
  }

  /** True when the stored hash used other (weaker or different) parameters than configured. */
  needsRehash(hash: string): boolean {
    try {
      return argon2.needsRehash(hash, { ...this.params });
    } catch {
      return true;
    }
  }

  private async queued<T>(operation: 'hash' | 'verify', task: () => Promise<T>): Promise<T> {
    try {
      return await this.semaphore.run(async () => {
        const end = this.metrics.passwordHashDuration.startTimer({ operation });
        try {
          return await task();
        } finally {
          end();
        }
      });
    } catch (error) {
      if (error instanceof QueueFullError) {
        this.metrics.hashRejected.inc();
        throw busy();
      }
      throw error;
    }
  }
}
