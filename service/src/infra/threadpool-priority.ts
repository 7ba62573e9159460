import { readFileSync, readdirSync } from 'node:fs';
import { setPriority } from 'node:os';
import type { Logger } from './logger.ts';

/** Niceness for the threadpool: below the event loop, so hashing uses the CPU the loop leaves. */
export const THREADPOOL_NICE = 10;

/**
 * Lowers the scheduling priority of libuv's threadpool threads, where argon2 runs, below the
 * event loop's. Under a login flood the hashes then take the CPU that signed-in requests leave
 * idle instead of competing with them for it: reads keep their latency, and logins still use
 * every spare cycle. (Nothing else heavy runs on the pool here: file writes for the log, rare
 * DNS lookups.) Linux only (per-thread nice via /proc/self/task); elsewhere it does nothing.
 * Call it after the pool exists (the first hash creates it: PasswordHasher.warmUp).
 */
export function lowerThreadpoolPriority(logger: Logger): number {
  let lowered = 0;
  let tasks: string[];
  try {
    tasks = readdirSync('/proc/self/task');
  } catch {
    return 0;
  }
  for (const tid of tasks) {
    try {
      if (readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() !== 'libuv-worker') continue;
      setPriority(Number(tid), THREADPOOL_NICE);
      lowered += 1;
    } catch (error) {
      logger.warn(
        { err: error, event: 'threadpool.priority_failed', tid },
        'could not lower a threadpool thread priority',
      );
    }
  }
  logger.info(
    { event: 'threadpool.priority', threads: lowered, nice: THREADPOOL_NICE },
    'hashing threads run below the event loop',
  );
  return lowered;
}
