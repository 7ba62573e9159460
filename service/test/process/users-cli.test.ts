import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { buildTestApp, login, uniqueUsername, viaEdge, type TestApp } from '../helpers/test-app.ts';
import { requireBuild, runNode } from './helpers.ts';

beforeAll(requireBuild);

describe('operator CLI (npm run users -- ...)', () => {
  let t: TestApp;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    t = await buildTestApp();
    // The CLI reads the same environment as the service.
    env = {
      REDIS_URL: t.config.redis.url,
      REDIS_KEY_PREFIX: t.prefix,
      SESSION_SECRETS: t.config.session.secrets.join(','),
    };
  });
  afterAll(() => t.close());

  const users = (args: string[], stdin?: string) => runNode('cli/users.js', args, env, stdin);

  it('when `add` gets the password on stdin, then the user can log in, and `ls` lists it', async () => {
    const username = uniqueUsername('cli');

    const added = await users(['add', username], 'a cli-made passphrase\n');
    const listed = await users(['ls']);

    expect(added).toMatchObject({ code: 0, stdout: expect.stringContaining(`created ${username}`) });
    expect(listed.stdout).toContain(username);
    await login(t, username, 'a cli-made passphrase');
  });

  it('when `groups add` and `groups rm` run, then the groups change, `ls` and /api/me show them, and the user’s sessions end', async () => {
    const username = uniqueUsername('cli');
    await users(['add', username], 'a cli-made passphrase\n');
    const cookie = await login(t, username, 'a cli-made passphrase');

    const added = await users(['groups', username, 'add', 'staff', 'ops']);
    expect(added).toMatchObject({ code: 0, stdout: expect.stringContaining('ops, staff; 1 session(s) ended') });
    expect((await viaEdge(t.app).get('/api/me').set('Cookie', cookie)).status).toBe(401);
    expect((await users(['ls'])).stdout).toMatch(new RegExp(`${username}\\t.*groups ops,staff`));
    const me = await viaEdge(t.app)
      .get('/api/me')
      .set('Cookie', await login(t, username, 'a cli-made passphrase'));
    expect(me.body.user.groups).toEqual(['ops', 'staff']);

    expect((await users(['groups', username, 'rm', 'ops'])).stdout).toContain(`groups of ${username}: staff`);
    expect((await users(['groups', username])).stdout.trim()).toBe('staff');
    expect(await users(['groups', username, 'add', 'Not A Group'])).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('group "Not A Group"'),
    });
  });

  it('when `add` gets a weak password or a taken name, then it exits non-zero with the reason', async () => {
    const username = uniqueUsername('cli');
    await users(['add', username], 'a cli-made passphrase\n');

    const weak = await users(['add', uniqueUsername('cli')], 'qwerty123456\n');
    const taken = await users(['add', username.toUpperCase()], 'another fine passphrase\n');
    const empty = await users(['add', uniqueUsername('cli')], '');

    expect(weak).toMatchObject({ code: 1, stderr: expect.stringContaining('commonly used') });
    expect(taken).toMatchObject({ code: 1, stderr: expect.stringContaining('taken') });
    expect(empty).toMatchObject({ code: 1, stderr: expect.stringContaining('no password') });
  });

  it('when `add` gets a look-alike of an existing name or a name mixing scripts, then it exits non-zero with the reason, as sign-up does', async () => {
    const username = `coco${Date.now()}`;
    await users(['add', username], 'a cli-made passphrase\n');

    const lookAlike = await users(
      ['add', username.replace('coco', '\u0441\u043e\u0441\u043e')],
      'another fine passphrase\n',
    );
    const mixed = await users(['add', username.replace('coco', 'c\u043eco')], 'another fine passphrase\n');

    expect(lookAlike).toMatchObject({ code: 1, stderr: expect.stringContaining('looks') });
    expect(mixed).toMatchObject({ code: 1, stderr: expect.stringContaining('one script') });
  });

  it('when `passwd` runs, then the new password works and all existing sessions end', async () => {
    const username = uniqueUsername('cli');
    await users(['add', username], 'first cli passphrase\n');
    const cookie = await login(t, username, 'first cli passphrase');

    const result = await users(['passwd', username], 'second cli passphrase\n');

    expect(result).toMatchObject({ code: 0, stdout: expect.stringContaining('1 session(s) ended') });
    expect((await viaEdge(t.app).get('/api/me').set('Cookie', cookie)).status).toBe(401);
    await login(t, username, 'second cli passphrase');
  });

  it('when `rm` runs, then the user is gone and their sessions end', async () => {
    const username = uniqueUsername('cli');
    await users(['add', username], 'doomed cli passphrase\n');
    const cookie = await login(t, username, 'doomed cli passphrase');

    const result = await users(['rm', username]);

    expect(result.code).toBe(0);
    expect((await viaEdge(t.app).get('/api/me').set('Cookie', cookie)).status).toBe(401);
    expect((await viaEdge(t.app).post('/api/login').send({ username, password: 'doomed cli passphrase' })).status).toBe(
      401,
    );
    expect((await users(['ls'])).stdout).not.toContain(username);
  });

  it('when the command is unknown or the user missing, then usage or a clear error and a non-zero exit', async () => {
    expect((await users([])).code).toBe(2);
    expect(await users(['frobnicate', 'x'])).toMatchObject({ code: 1, stderr: expect.stringContaining('usage:') });
    expect(await users(['rm', uniqueUsername('ghost')])).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('no user'),
    });
  });

  it('the password is never accepted from argv', async () => {
    const username = uniqueUsername('cli');
    const result = await users(['add', username, 'argv passphrase here'], 'stdin passphrase here\n');
    expect(result).toMatchObject({ code: 1, stderr: expect.stringContaining('never from argv') });
    expect((await users(['ls'])).stdout).not.toContain(username);
  });
});
