import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { testScratchDir } from '../../../testkit/scratch-dir.ts';
import { type RedisServer } from '../../../testkit/redis-server.ts';
import { onOwnRedis, createUser, login, sessionIdOf, viaEdge, type TestApp } from '../helpers/test-app.ts';

/**
 * Issue #10.6: live session tokens never rest in Redis. Keys and index members derive from a
 * one-way hash of the session id, so a Redis dump (or a `make backup` file) lets nobody sign in.
 */
describe('session tokens at rest', () => {
  let redis: RedisServer;
  let t: TestApp;
  onOwnRedis((app, server) => ([t, redis] = [app, server]));

  it('when users are signed in, then no cookie value and no session id appears in any key, value or member, nor in an RDB snapshot', async () => {
    const { username, password } = await createUser(t);
    const cookies = [
      await login(t, username, password),
      await login(t, username, password),
      await login(t, username, password),
    ];
    const secrets = cookies.flatMap((cookie) => {
      const value = cookie.split('=')[1]!;
      return [value, decodeURIComponent(value), sessionIdOf(cookie)];
    });
    const handles = (
      (await viaEdge(t.app).get('/api/sessions').set('Cookie', cookies[0]!)).body.sessions as Array<{ id: string }>
    ).map((s) => s.id);

    const everything: string[] = [];
    for (const key of await t.redis.keys('*')) {
      everything.push(key);
      const type = await t.redis.type(key);
      if (type === 'string') everything.push((await t.redis.get(key)) ?? '');
      if (type === 'hash') everything.push(...Object.entries(await t.redis.hGetAll(key)).flat());
      if (type === 'zset') everything.push(...(await t.redis.zRange(key, 0, -1)));
      if (type === 'set') everything.push(...(await t.redis.sMembers(key)));
    }
    const dir = testScratchDir('authstack-rdb-');
    execFileSync('redis-cli', ['-p', String(redis.port), '--rdb', join(dir, 'dump.rdb')], { stdio: 'ignore' });
    const rdb = readFileSync(join(dir, 'dump.rdb')).toString('latin1');

    expect(everything.length).toBeGreaterThan(5);
    for (const secret of secrets) {
      expect(everything.filter((item) => item.includes(secret))).toEqual([]);
      expect(rdb.includes(secret)).toBe(false);
    }
    // The public handles are opaque too: not the stored member, not the id.
    for (const handle of handles) expect(everything.some((item) => item.includes(handle))).toBe(false);
  });
});
