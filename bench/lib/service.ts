// Starts bench/lib/service-process.ts as a child and talks to it over IPC.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';

const CHILD = new URL('./service-process.ts', import.meta.url);

/** The environment every bench service shares; each bench overrides what it measures. */
export function benchEnv(redisUrl: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: `bench${randomBytes(4).toString('hex')}:`,
    SESSION_SECRETS: randomBytes(32).toString('base64url'),
    PUBLIC_ORIGIN: 'https://bench.localhost',
    LOG_LEVEL: 'error',
    // Benchmarks measure hashing, not the throttle: keep every attempt below the limits.
    LOGIN_MAX_CONSECUTIVE_FAILURES: '10000',
    LOGIN_MAX_FAILURES_PER_IP_PER_HOUR: '1000000',
    LOGIN_MAX_FAILURES_PER_ACCOUNT_PER_HOUR: '1000000',
    ...overrides,
  };
}

export interface MemoryReading {
  rss: number;
  heapUsed: number;
  gc: boolean;
}

export interface BenchService {
  port: number;
  createUser(username: string, password: string): Promise<{ id: string }>;
  memory(): Promise<MemoryReading>;
  stop(): Promise<void>;
}

export async function startService(env: Record<string, string>): Promise<BenchService> {
  const child = fork(CHILD, [], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let nextId = 0;
  child.on('message', (message: { id: number; result?: unknown; error?: string }) => {
    const entry = pending.get(message.id);
    if (!entry) return;
    pending.delete(message.id);
    if (message.error) entry.reject(new Error(`service process: ${message.error}`));
    else entry.resolve(message.result);
  });
  child.on('exit', (code) => {
    for (const entry of pending.values()) entry.reject(new Error(`service process exited (${code})`));
    pending.clear();
  });
  const call = <T>(command: string, args?: Record<string, unknown>) =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      child.send({ id, command, args });
    });
  const { port } = await call<{ port: number }>('start', { env });
  return {
    port,
    createUser: (username, password) => call('createUser', { username, password }),
    memory: () => call('memory'),
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      await call('stop').catch(() => child.kill('SIGKILL'));
      await exited;
    },
  };
}
