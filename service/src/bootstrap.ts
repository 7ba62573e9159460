import type { DestinationStream } from 'pino';
import { ConfigError, loadConfig, type Config } from './config/config.ts';
import { createDomain, type Domain } from './domain.ts';
import { systemClock, type Clock } from './infra/clock.ts';
import { createLogger, type Logger } from './infra/logger.ts';
import { createMetrics, observeRedis, type Metrics } from './infra/metrics.ts';
import { createRedisClient, type RedisClient } from './infra/redis-client.ts';

/** Everything a process of this service runs on: what createApp and the CLI are fed. */
export interface Runtime {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  redis: RedisClient;
  clock: Clock;
  domain: Domain;
  /** Closes the Redis connection (politely, else by force). */
  close(): Promise<void>;
}

export interface BootstrapOptions {
  /** Where the configuration comes from (default process.env); ignored when `config` is given. */
  env?: NodeJS.ProcessEnv;
  config?: Config;
  clock?: Clock;
  /** Log lines go here (default stdout). */
  logDestination?: DestinationStream;
  /** Overrides LOG_LEVEL (the CLI keeps routine info lines out of its output). */
  logLevel?: Config['logLevel'];
  /** Process and Node.js metrics (default on; tests and the CLI leave them off). */
  defaultMetrics?: boolean;
  /** A client made elsewhere (tests that stop and restart Redis hand theirs in). */
  redis?: RedisClient;
  /** Compute the decoy hash before returning, so the first unknown-user login is not faster. */
  warmUpHasher?: boolean;
}

/**
 * The one start-up chain: config -> logger -> metrics -> Redis -> domain. The server, the
 * operator CLI, the test helper and the bench all open their dependencies here, so the chain
 * is written once. Throws ConfigError (with every bad key named) before opening anything.
 * Resolves once Redis answers: node-redis retries the first connection until it does.
 */
export async function bootstrap(options: BootstrapOptions = {}): Promise<Runtime> {
  const config = options.config ?? loadConfig(options.env ?? process.env);
  const logger = createLogger(
    options.logLevel ?? config.logLevel,
    options.logDestination ?? (config.logFormat === 'pretty' ? await prettyStream() : undefined),
  );
  const metrics = createMetrics({ collectDefaults: options.defaultMetrics ?? true });
  const clock = options.clock ?? systemClock;
  const redis = options.redis ?? createRedisClient({ ...config.redis, logger });
  observeRedis(metrics, redis, config.redis.commandTimeoutMs);
  const domain = createDomain({ config, redis, logger, metrics, clock });
  if (options.warmUpHasher) await domain.hasher.warmUp();
  if (!redis.isOpen) {
    const { sentinel } = config.redis;
    const target = sentinel
      ? { sentinels: sentinel.nodes.map((n) => `${n.host}:${n.port}`), name: sentinel.name }
      : { url: redactUrl(config.redis.url) };
    logger.info(
      { event: 'redis.connecting', ...target },
      sentinel ? `connecting to redis through sentinel (${sentinel.name})` : 'connecting to redis',
    );
    await redis.connect();
  }
  return {
    config,
    logger,
    metrics,
    redis,
    clock,
    domain,
    async close() {
      if (redis.isOpen) await redis.close().catch(() => redis.destroy());
    },
  };
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

/** LOG_FORMAT=pretty: pino-pretty, a dev dependency (the production image has none, and refuses the setting). */
async function prettyStream(): Promise<DestinationStream> {
  try {
    const { default: pretty } = await import('pino-pretty');
    return pretty({
      colorize: process.stdout.isTTY,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,service',
      sync: true,
    });
  } catch {
    throw new ConfigError([
      'LOG_FORMAT: pretty needs the pino-pretty dev dependency (npm ci); it is for local development only',
    ]);
  }
}
