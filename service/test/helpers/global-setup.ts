import { execFileSync } from 'node:child_process';
import { startRedisServer } from './redis-server';

/**
 * One real redis-server for the integration tests, unless REDIS_URL points at one.
 * Workers inherit process.env, so they find it as TEST_REDIS_URL.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.REDIS_URL) {
    process.env.TEST_REDIS_URL = process.env.REDIS_URL;
    return;
  }
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('redis-server is not installed. Run `make test` (it installs it) or: sudo apt-get install -y redis-server');
  }
  const server = await startRedisServer();
  process.env.TEST_REDIS_URL = server.url;
  (globalThis as { __authstackRedis?: typeof server }).__authstackRedis = server;
}
