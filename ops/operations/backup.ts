import { spawn } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, openSync, readSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { CliError, say } from '../lib/log.ts';
import { run, which } from '../lib/run.ts';
import { ensureTools } from '../lib/tools.ts';

/** backups/redis-<UTC time>.rdb */
export function defaultBackupName(now = new Date()): string {
  return `backups/redis-${now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}.rdb`;
}

/** A new, empty file only its owner can read, in a directory only its owner can enter. */
function privateFile(file: string): string {
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  closeSync(openSync(file, 'w', 0o600));
  chmodSync(file, 0o600);
  return file;
}

/** Every RDB file starts with the magic "REDIS" and a 4-digit version. */
function assertRdb(file: string): void {
  const fd = openSync(file, 'r');
  const head = Buffer.alloc(5);
  try {
    readSync(fd, head, 0, 5, 0);
  } finally {
    closeSync(fd);
  }
  if (head.toString('latin1') !== 'REDIS') throw new CliError(`${file} is not an RDB file`);
}

/**
 * A consistent point-in-time copy of the Redis data (users and sessions) as an RDB file, from a
 * native Redis: Redis forks and streams a snapshot (`redis-cli --rdb`, the replication path),
 * so the copy is consistent while the stack keeps serving. The password travels in
 * REDISCLI_AUTH, never on the command line. Private from its first byte (it holds every
 * password hash): the file is created 0600, before redis-cli opens it (which keeps an existing
 * file's mode), in a 0700 directory. Checked with redis-check-rdb.
 */
export async function backupNativeRedis(out: string, redis: { port: number; password: string }): Promise<void> {
  await ensureTools('redis-cli');
  const partial = privateFile(`${out}.partial`);
  try {
    await run('redis-cli', ['--no-auth-warning', '-h', '127.0.0.1', '-p', String(redis.port), '--rdb', partial], {
      env: { ...process.env, REDISCLI_AUTH: redis.password },
    });
    if (which('redis-check-rdb')) await run('redis-check-rdb', [partial]);
    assertRdb(partial);
    renameSync(partial, out);
  } finally {
    rmSync(partial, { force: true });
  }
  say('backup', `backup written: ${out}`);
}

/**
 * The same from the compose stack's Redis container. redis-cli writes the snapshot into the
 * data volume first (with `--rdb -` Redis 7.0 leaves the 40-byte EOF mark of a diskless
 * transfer at the end), it is checked there, streamed out and removed, all as the redis user:
 * /data is private to it, and root in that container has no CAP_DAC_OVERRIDE.
 */
export async function backupContainerRedis(out: string, containerId: string): Promise<void> {
  mkdirSync(dirname(out), { recursive: true });
  const name = `.backup-${process.pid}.rdb`;
  const exec = (args: string[], options: { allowFailure?: boolean } = {}) =>
    run('docker', ['exec', '-u', 'redis', containerId, ...args], options);
  const partial = privateFile(`${out}.partial`);
  try {
    await exec([
      'sh',
      '-c',
      'set -e; REDISCLI_AUTH=$(cat /run/secrets/redis_password) redis-cli --no-auth-warning --rdb "/data/$1" >&2; redis-check-rdb "/data/$1" >/dev/null || { redis-check-rdb "/data/$1" >&2; exit 1; }',
      'sh',
      name,
    ]);
    const fd = openSync(partial, 'w');
    try {
      await new Promise<void>((resolve, reject) => {
        const child = spawn('docker', ['exec', '-u', 'redis', containerId, 'cat', `/data/${name}`], {
          stdio: ['ignore', fd, 'inherit'],
        });
        child.on('error', reject);
        child.on('close', (code) =>
          code === 0
            ? resolve()
            : reject(new CliError(`copying the snapshot out of ${containerId} failed (exit ${code})`)),
        );
      });
    } finally {
      closeSync(fd);
    }
    assertRdb(partial);
    renameSync(partial, out);
  } finally {
    await exec(['rm', '-f', `/data/${name}`], { allowFailure: true });
    rmSync(partial, { force: true });
  }
  say('backup', `backup written: ${out}`);
}
