import { chmodSync, closeSync, mkdirSync, openSync, renameSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CliError, say } from '../lib/log.ts';
import { run, which } from '../../testkit/run.ts';
import { ensureTools } from '../lib/tools.ts';

/** backups/redis-<UTC time>.rdb */
export function defaultBackupName(now = new Date()): string {
  return `backups/redis-${now.toISOString().replace(/[-:]|\.\d+/g, '')}.rdb`;
}

/**
 * Writes `out` through `<out>.partial`: a new, empty file only its owner can read, in a directory
 * only its owner can enter, created before anything writes to it (redis-cli keeps an existing
 * file's mode); `fill` writes the snapshot into it, which must then be an RDB file (the magic
 * "REDIS" first) before it is renamed into place.
 */
async function writePrivately(out: string, fill: (partial: string) => Promise<void>): Promise<void> {
  const dir = dirname(out);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const partial = `${out}.partial`;
  closeSync(openSync(partial, 'w', 0o600));
  chmodSync(partial, 0o600);
  try {
    await fill(partial);
    const file = await open(partial);
    const head = await file.read(Buffer.alloc(5), 0, 5, 0).finally(() => file.close());
    if (head.buffer.toString('latin1') !== 'REDIS') throw new CliError(`${partial} is not an RDB file`);
    renameSync(partial, out);
  } finally {
    rmSync(partial, { force: true });
  }
  say('backup', `backup written: ${out}`);
}

/**
 * A consistent point-in-time copy of the Redis data (users and sessions) as an RDB file, from a
 * native Redis: Redis forks and streams a snapshot (`redis-cli --rdb`, the replication path),
 * so the copy is consistent while the stack keeps serving. The password travels in
 * REDISCLI_AUTH, never on the command line. Private from its first byte: it holds every
 * password hash. Checked with redis-check-rdb.
 */
export async function backupNativeRedis(out: string, redis: { port: number; password: string }): Promise<void> {
  await ensureTools('redis-cli');
  await writePrivately(out, async (partial) => {
    await run('redis-cli', ['--no-auth-warning', '-h', '127.0.0.1', '-p', String(redis.port), '--rdb', partial], {
      env: { ...process.env, REDISCLI_AUTH: redis.password },
    });
    if (which('redis-check-rdb')) await run('redis-check-rdb', [partial]);
  });
}

/**
 * The same from the compose stack's Redis container. redis-cli writes the snapshot into the
 * data volume first (with `--rdb -` Redis 7.0 leaves the 40-byte EOF mark of a diskless
 * transfer at the end), it is checked there, streamed out and removed, all as the redis user:
 * /data is private to it, and root in that container has no CAP_DAC_OVERRIDE.
 */
export async function backupContainerRedis(out: string, containerId: string): Promise<void> {
  const name = `.backup-${process.pid}.rdb`;
  const exec = (args: string[], options: { allowFailure?: boolean; stdout?: number } = {}) =>
    run('docker', ['exec', '-u', 'redis', containerId, ...args], options);
  try {
    await writePrivately(out, async (partial) => {
      await exec([
        'sh',
        '-c',
        'set -e; REDISCLI_AUTH=$(cat /run/secrets/redis_password) redis-cli --no-auth-warning --rdb "/data/$1" >&2; redis-check-rdb "/data/$1" >/dev/null || { redis-check-rdb "/data/$1" >&2; exit 1; }',
        'sh',
        name,
      ]);
      const file = await open(partial, 'w');
      await exec(['cat', `/data/${name}`], { stdout: file.fd }).finally(() => file.close());
    });
  } finally {
    await exec(['rm', '-f', `/data/${name}`], { allowFailure: true });
  }
}
