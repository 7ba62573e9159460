import { execFileSync } from 'node:child_process';
import { startRedisServer, type RedisServer } from '../../../testkit/redis-server.ts';

/** Where the integration tests find their Redis: each test file connects with its own key prefix. */
export const TEST_REDIS_URL = 'AUTHSTACK_TEST_REDIS_URL';

declare global {
  var authstackTestRedis: RedisServer | undefined;
}

/**
 * jest globalSetup of the integration project: one real redis-server for every integration test
 * file, unless REDIS_URL points at one. Its URL reaches the test workers through the
 * environment (they are started after this ran); global-teardown.ts stops it.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.REDIS_URL) {
    process.env[TEST_REDIS_URL] = process.env.REDIS_URL;
    return;
  }
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error(
      'redis-server is not installed. Run `make test` (it installs it) or: sudo apt-get install -y redis-server',
    );
  }
  globalThis.authstackTestRedis = await startRedisServer();
  process.env[TEST_REDIS_URL] = globalThis.authstackTestRedis.url;
}
