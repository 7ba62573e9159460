import { execFileSync } from 'node:child_process';
import type { TestProject } from 'vitest/node';
import { startRedisServer } from '../../../ops/lib/redis-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The Redis every integration test file connects to (each with its own key prefix). */
    redisUrl: string;
  }
}

/**
 * One real redis-server for the integration tests, unless REDIS_URL points at one. The
 * returned function stops it after the last test file.
 */
export default async function globalSetup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  if (process.env.REDIS_URL) {
    project.provide('redisUrl', process.env.REDIS_URL);
    return undefined;
  }
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('redis-server is not installed. Run `make test` (it installs it) or: sudo apt-get install -y redis-server');
  }
  const server = await startRedisServer();
  project.provide('redisUrl', server.url);
  return () => server.stop();
}
