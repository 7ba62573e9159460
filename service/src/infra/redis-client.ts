import {
  ClientClosedError,
  ClientOfflineError,
  CommandTimeoutDuringMaintenanceError,
  ConnectionTimeoutError,
  ErrorReply,
  ReconnectStrategyError,
  SocketClosedUnexpectedlyError,
  SocketTimeoutDuringMaintenanceError,
  SocketTimeoutError,
  TimeoutError,
  createClient,
  createSentinel,
} from 'redis';
import type { Logger } from './logger.ts';

/**
 * The client type the rest of the code is written against: node-redis's standalone client. The
 * Sentinel client offers the same commands for what this service uses (get/set/del, eval and
 * evalSha, hashes, sorted sets, multi, info, ping; connect-redis works on it unchanged) and is
 * handed out under this type.
 */
export type RedisClient = ReturnType<typeof createStandaloneClient>;

export interface RedisClientOptions {
  url: string;
  /** Connect through Sentinel: the primary named `name`, found by asking these Sentinels. */
  sentinel?: { nodes: Array<{ host: string; port: number }>; name: string };
  password?: string;
  commandTimeoutMs: number;
  logger: Logger;
}

/** A Redis command that did not answer within REDIS_COMMAND_TIMEOUT_MS. Maps to 503. */
export class RedisDeadlineError extends Error {
  constructor(ms: number) {
    super(`redis command timed out after ${ms} ms`);
    this.name = 'RedisDeadlineError';
  }
}

const REDIS_ERROR_CLASSES = [
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
  TimeoutError,
  ReconnectStrategyError,
  CommandTimeoutDuringMaintenanceError,
  SocketTimeoutDuringMaintenanceError,
  RedisDeadlineError,
];
/** Plain errors node-redis's Sentinel client raises while no primary is reachable. */
const SENTINEL_UNAVAILABLE = /^(no valid master node|None of the sentinels are available)/;
/** Error replies that mean "Redis cannot serve right now", not "our command was wrong". */
const UNAVAILABLE_REPLY = /^(OOM|READONLY|MISCONF|LOADING|BUSY|NOAUTH|WRONGPASS|MASTERDOWN|TRYAGAIN|CLUSTERDOWN)\b/;
const NETWORK_CODES = /^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN)$/;

/** True for errors that mean "Redis is not answering": the request gets 503, not 500. */
export function isRedisUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  if (REDIS_ERROR_CLASSES.some((cls) => error instanceof cls)) return true;
  const { message = '', code = '' } = error as { message?: string; code?: string };
  if (error instanceof ErrorReply) return UNAVAILABLE_REPLY.test(message);
  if (SENTINEL_UNAVAILABLE.test(message)) return true;
  // Socket errors come from Node core (possibly another realm): matched by their code.
  return NETWORK_CODES.test(String(code));
}

/** Lifecycle methods are not raced: connect() retries until Redis is up, by design. */
const NOT_RACED = new Set<PropertyKey>([
  'connect',
  'close',
  'quit',
  'disconnect',
  'destroy',
  'on',
  'once',
  'off',
  'addListener',
  'removeListener',
  'emit',
  'duplicate',
]);

/**
 * A node-redis client tuned to fail fast, so requests answer 503 instead of hanging:
 *  - no offline queue: while disconnected, commands are rejected at once;
 *  - every command (and MULTI exec) has a deadline of commandTimeoutMs (Deadlines below).
 *    node-redis's own command timeout stops counting once a command is written to the socket,
 *    so a Redis that accepts connections but does not answer (frozen, overloaded, a dead
 *    network path) would otherwise hold every request;
 *  - a socket idle timeout with periodic PINGs, so such a connection is eventually torn down
 *    and re-established instead of waiting forever.
 * It keeps reconnecting in the background with capped backoff.
 */
export function createRedisClient(options: RedisClientOptions): RedisClient {
  return options.sentinel ? createSentinelClient(options, options.sentinel) : createStandaloneClient(options);
}

function createStandaloneClient({ url, password, commandTimeoutMs, logger }: RedisClientOptions) {
  const client = createClient({
    url,
    ...(password ? { password } : {}),
    disableOfflineQueue: true,
    // node-redis 6 gives every command a 5 s AbortSignal.timeout by default; Deadlines (below)
    // already bounds every command, more cheaply and more tightly.
    commandOptions: { timeout: 0 },
    pingInterval: Math.max(1000, commandTimeoutMs),
    socket: {
      connectTimeout: Math.max(commandTimeoutMs, 1000),
      socketTimeout: Math.max(1000, commandTimeoutMs) * 3,
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
  return withDeadline(client, commandTimeoutMs);
}

/**
 * node-redis's Sentinel client: it asks the Sentinels for the primary, and after a failover
 * follows the promoted replica without being recreated (commands in flight are held and
 * retried on the new primary; Deadlines turns a long hold into a 503). Reads stay on the
 * primary (replicas lag: a session written a moment ago must be readable). Sentinels are
 * authenticated with the same REDIS_PASSWORD as the data nodes.
 */
function createSentinelClient(
  { password, commandTimeoutMs, logger }: RedisClientOptions,
  sentinel: { nodes: Array<{ host: string; port: number }>; name: string },
): RedisClient {
  const auth = password ? { password } : {};
  const client = createSentinel({
    name: sentinel.name,
    sentinelRootNodes: sentinel.nodes,
    nodeClientOptions: {
      ...auth,
      disableOfflineQueue: true,
      pingInterval: Math.max(1000, commandTimeoutMs),
      socket: { connectTimeout: Math.max(1000, commandTimeoutMs), socketTimeout: Math.max(1000, commandTimeoutMs) * 3 },
    },
    sentinelClientOptions: { ...auth, socket: { connectTimeout: Math.max(1000, commandTimeoutMs) } },
    // No per-command AbortSignal (Deadlines bounds every command), as for the standalone client.
    commandOptions: { timeout: 0 },
    masterPoolSize: 1,
    replicaPoolSize: 0,
    // Each rediscovery waits about a second: this bounds how long a command is held while no
    // primary is known (Deadlines answers the request with 503 long before).
    maxCommandRediscovers: 8,
  });
  // Without an 'error' listener a lost Sentinel connection would crash the process.
  client.on('error', (error: unknown) =>
    logger.warn({ err: error, event: 'redis.sentinel_error' }, 'redis sentinel error'),
  );
  client.on('topology-change', (event: { type?: string }) =>
    logger.info({ event: 'redis.topology_change', change: event?.type }, 'redis topology changed'),
  );
  return withDeadline(client as unknown as RedisClient, commandTimeoutMs);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/**
 * Command deadlines with one sweeping timer instead of a timer (and a Promise.race) per command:
 * a signed-in request issues a Redis command, and per-command timers and AbortSignals were a
 * measurable share of its CPU. A command that has not answered within `ms` (checked every
 * tenth of it) is rejected with RedisDeadlineError; its late reply, if any, is dropped.
 */
class Deadlines {
  private readonly pending = new Set<{ at: number; reject: (error: Error) => void }>();
  private timer: NodeJS.Timeout | undefined;
  private readonly ms: number;

  constructor(ms: number) {
    this.ms = ms;
  }

  watch<T>(promise: PromiseLike<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry = { at: performance.now() + this.ms, reject };
      this.pending.add(entry);
      this.timer ??= setInterval(() => this.sweep(), Math.max(10, Math.floor(this.ms / 10))).unref();
      promise.then(
        (value) => {
          this.pending.delete(entry);
          resolve(value);
        },
        (error: unknown) => {
          this.pending.delete(entry);
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  }

  private sweep(): void {
    const now = performance.now();
    for (const entry of this.pending) {
      if (entry.at > now) continue;
      this.pending.delete(entry);
      entry.reject(new RedisDeadlineError(this.ms));
    }
    if (this.pending.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

/**
 * Wraps the client so every promise-returning command gets the deadline; MULTI/pipeline
 * objects get the same treatment for exec(). Wrapped methods are made once per name.
 */
function withDeadline<C extends object>(client: C, ms: number): C {
  const deadlines = new Deadlines(ms);
  const wrapChain = (chain: object): object =>
    new Proxy(chain, {
      get(target, prop, receiver) {
        // `this` stays the real object: node-redis uses private fields, which a proxy lacks.
        const value: unknown = Reflect.get(target, prop);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
          if (isThenable(result)) return deadlines.watch(result);
          // Chained command builders return the chain itself: keep wrapping it.
          return result === target ? (receiver as unknown) : result;
        };
      },
    });
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(client, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop);
      if (typeof value !== 'function' || NOT_RACED.has(prop)) return value;
      let wrapper = wrapped.get(prop);
      if (!wrapper) {
        wrapper = (...args: unknown[]) => {
          const result: unknown = (Reflect.get(target, prop) as (...a: unknown[]) => unknown).apply(target, args);
          if (isThenable(result)) return deadlines.watch(result);
          if (prop === 'multi' || prop === 'MULTI') return wrapChain(result as object);
          return result;
        };
        wrapped.set(prop, wrapper);
      }
      return wrapper;
    },
  });
}

/** How long a write that must survive a failover waits for a replica's acknowledgement. */
export const REPLICA_ACK_TIMEOUT_MS = 100;

/**
 * For writes that must survive a failover (a new session at login, a password change, a new
 * user): with Sentinel, wait until one replica acknowledged them (WAIT 1, at most
 * REPLICA_ACK_TIMEOUT_MS); a standalone Redis has no replica, so nothing to wait for.
 * Replication stays asynchronous: this narrows the loss window of those writes to the rare
 * case where the replica did not answer in time; it never fails the request.
 */
export function replicaAcknowledgement(redis: RedisClient, sentinel: boolean): () => Promise<void> {
  if (!sentinel) return async () => undefined;
  return async () => {
    await redis.wait(1, REPLICA_ACK_TIMEOUT_MS).catch(() => 0);
  };
}
