import { randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createClient } from 'redis';
import { watchCommandLines } from '../../testkit/proc.ts';
import { startRedisServer, type RedisServer } from '../../testkit/redis-server.ts';
import { suiteScratchDir } from '../../testkit/scratch-dir.ts';
import { backupNativeRedis } from './backup.ts';

/**
 * Security review 2, finding 4: `make backup` (native). The file holds every password hash: it
 * must be private from its first byte, in a private directory, and the Redis password must be
 * on no command line while it runs.
 */
describe('make backup (native Redis)', () => {
  const password = randomBytes(24).toString('base64url');
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer({ password });
    // Enough data that the transfer takes a while: the watcher below sees the partial file.
    const client = createClient({ url: redis.url, password });
    await client.connect();
    for (let batch = 0; batch < 20; batch += 1) {
      // Random values: RDB compression would shrink repeated ones to nothing.
      await Promise.all(
        Array.from({ length: 500 }, (_, i) => client.set(`filler:${batch}:${i}`, randomBytes(768).toString('base64'))),
      );
    }
    await client.close();
  });
  afterAll(() => redis.stop());
  const dir = suiteScratchDir('authstack-backup-');

  it('when a backup is written, then its directory is 0700, every file in it is 0600 from the first moment it exists, and the password is on no command line', async () => {
    const backups = join(dir, 'backups');
    const out = join(backups, 'redis-test.rdb');
    const modes = new Set<string>();
    const watcher = watchCommandLines([password]);
    const poll = setInterval(() => {
      try {
        modes.add(`dir ${(statSync(backups).mode & 0o777).toString(8)}`);
        for (const file of readdirSync(backups))
          modes.add(`file ${(statSync(join(backups, file)).mode & 0o777).toString(8)}`);
      } catch {
        /* not there yet, or renamed meanwhile */
      }
    }, 1);

    await backupNativeRedis(out, { port: redis.port, password });
    clearInterval(poll);
    const leaks = watcher.stop();

    expect(statSync(out).size).toBeGreaterThan(5 * 1024 * 1024);
    expect([...modes].sort()).toEqual(['dir 700', 'file 600']);
    expect(leaks).toEqual([]);
  });
});
