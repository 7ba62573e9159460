import { createClient } from 'redis';
import type { Logger } from './logger';

/** The concrete client type (RESP3, default modules) that the rest of the code is written against. */
export type RedisClient = ReturnType<typeof createRedisClient>;

export interface RedisClientOptions {
  url: string;
  password?: string;
  commandTimeoutMs: number;
  logger: Logger;
}

/**
 * A node-redis client tuned to fail fast: while Redis is away, commands are rejected at
 * once (no offline queue) or after commandTimeoutMs, so requests answer 503 instead of
 * hanging. It keeps reconnecting in the background with capped backoff.
 */
export function createRedisClient({ url, password, commandTimeoutMs, logger }: RedisClientOptions) {
  const client = createClient({
    url,
    ...(password ? { password } : {}),
    disableOfflineQueue: true,
    commandOptions: { timeout: commandTimeoutMs },
    socket: {
      connectTimeout: Math.max(commandTimeoutMs, 1000),
      // 100 ms, 200 ms, ... capped at 2 s, forever: Redis coming back is the normal case.
      reconnectStrategy: (retries: number) => Math.min((retries + 1) * 100, 2000),
    },
  });
  let healthy = false;
  // Without an 'error' listener node-redis would crash the process on a socket error.
  client.on('error', (error: Error) => {
    if (healthy) logger.error({ err: error, event: 'redis.error' }, 'redis connection error');
    else logger.debug({ err: error, event: 'redis.error' }, 'redis still unreachable');
    healthy = false;
  });
  client.on('ready', () => {
    healthy = true;
    logger.info({ event: 'redis.ready' }, 'redis connection ready');
  });
  client.on('reconnecting', () => logger.debug({ event: 'redis.reconnecting' }, 'redis reconnecting'));
  return client;
}
