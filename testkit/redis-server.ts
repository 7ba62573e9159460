import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { freePorts } from './ports.ts';
import { repoRoot } from './repo.ts';
import { waitFor } from './run.ts';

/** The eviction policy production runs with (deploy/redis.conf): tests and bench run it too. */
export function shippedMaxmemoryPolicy(): string {
  const policy = /^maxmemory-policy\s+(\S+)/m.exec(readFileSync(join(repoRoot, 'deploy/redis.conf'), 'utf8'))?.[1];
  if (!policy) throw new Error('deploy/redis.conf sets no maxmemory-policy');
  return policy;
}

/** A real redis-server on a free loopback port, with its own data dir (tests and the bench). */
export interface RedisServer {
  url: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
  /** Starts a stopped server again on the same port and data dir. */
  start(): Promise<void>;
}

/**
 * `persistent`: append-only file with fsync on every write, so a restart keeps all data.
 * `maxmemory`: a memory limit (the policy is always the shipped one, deploy/redis.conf).
 */
export async function startRedisServer(
  options: { password?: string; persistent?: boolean; maxmemory?: string } = {},
): Promise<RedisServer> {
  const [port] = (await freePorts(1)) as [number];
  const dir = mkdtempSync(join(tmpdir(), 'authstack-redis-'));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    ...(options.persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
    '--maxmemory-policy',
    shippedMaxmemoryPolicy(),
    ...(options.maxmemory ? ['--maxmemory', options.maxmemory] : []),
  ];
  if (options.password) args.push('--requirepass', options.password);
  const url = `redis://127.0.0.1:${port}`;

  const handle: RedisServer = {
    url,
    port,
    process: undefined as unknown as ChildProcess,
    async start() {
      handle.process = spawn('redis-server', args, { stdio: 'ignore' });
      await waitForRedis(url, options.password);
    },
    async stop() {
      const child = handle.process;
      if (child.exitCode !== null || child.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      });
    },
  };
  await handle.start();
  process.once('exit', () => {
    handle.process.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  return handle;
}

async function waitForRedis(url: string, password?: string): Promise<void> {
  let last: unknown;
  const pong = async () => {
    const client = createClient({ url, password, socket: { reconnectStrategy: false, connectTimeout: 500 } });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.ping();
      await client.close();
      return true;
    } catch (error) {
      client.destroy();
      last = error;
      return undefined;
    }
  };
  if (!(await waitFor(pong, { timeoutMs: 10_000, intervalMs: 50 })))
    throw new Error(`redis-server at ${url} did not start: ${String(last)}`, { cause: last });
}
