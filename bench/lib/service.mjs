// Starts bench/lib/service-process.mjs as a child and talks to it over IPC.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./service-process.mjs', import.meta.url));

/** The environment every bench service shares; each bench overrides what it measures. */
export function benchEnv(redisUrl, overrides = {}) {
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

export async function startService(env) {
  const child = fork(CHILD, [], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending = new Map();
  let nextId = 0;
  child.on('message', ({ id, result, error }) => {
    const entry = pending.get(id);
    if (!entry) return;
    pending.delete(id);
    if (error) entry.reject(new Error(`service process: ${error}`));
    else entry.resolve(result);
  });
  child.on('exit', (code) => {
    for (const entry of pending.values()) entry.reject(new Error(`service process exited (${code})`));
    pending.clear();
  });
  const call = (command, args) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      child.send({ id, command, args });
    });
  const { port } = await call('start', { env });
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
