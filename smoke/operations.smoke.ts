import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readEnvFile } from '../testkit/env-file.ts';
import { watchCommandLines } from '../testkit/proc.ts';
import { loginAs, loginAsAdmin } from './support/auth.ts';
import { request } from './support/http.ts';
import { envFile, secret, setting } from './support/stack.ts';

/**
 * What a user's operations must leave intact, through the make targets a user runs: sessions
 * and users survive a restart of the service and of Redis, a secret rotation logs nobody out,
 * and a backup puts no secret on a command line. These restart the stack and rotate its secret,
 * so they run only when the stack names how to run make against it: SMOKE_MAKE_CMD (CI sets it
 * for the compose stack, e.g. `ENV_FILE=... STACK=docker make -s -C <repo>`); skipped otherwise.
 */
const makeCommand = setting('SMOKE_MAKE_CMD');
const describeOperations = makeCommand ? describe : describe.skip;
/** A restart waits for health; the service may still be reconnecting to Redis for a few seconds after. */
const OPERATION_TIMEOUT_MS = 180_000;

/** `make <args>` against the stack under test, `input` on stdin (a password never goes in argv). */
function make(args: string, input = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('/bin/bash', ['-c', `${makeCommand} ${args}`], { encoding: 'utf8' }, (error, out, err) =>
      error ? reject(new Error(`make ${args}: ${err.trim() || error.message}`)) : resolve(out),
    );
    child.stdin!.end(input);
  });
}

/**
 * Who the session is signed in as. A 401 means the session is gone and fails at once; no answer
 * or a 5xx (the service reconnecting after a restart) is retried for 30 s.
 */
async function signedInAs(cookie: string): Promise<string> {
  let last = '';
  for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
    const response = await request('/api/me', { headers: { cookie } }).catch((error: Error) => error);
    if (!(response instanceof Error) && response.status < 500) {
      expect(response.status).toBe(200);
      return response.json<{ user: { username: string } }>().user.username;
    }
    last = response instanceof Error ? response.message : `${response.status} ${response.body}`;
    await new Promise((done) => setTimeout(done, 1000));
  }
  throw new Error(`/api/me: still ${last} after 30 s`);
}

describeOperations('operations on the running stack', () => {
  const admin = () => secret('ADMIN_USERNAME');
  const user = { username: `ops-${randomBytes(4).toString('hex')}`, password: randomBytes(18).toString('base64') };
  const sessions: Array<{ username: string; cookie: string }> = [];
  const expectSessionsWork = async () => {
    for (const { username, cookie } of sessions) expect(await signedInAs(cookie)).toBe(username);
  };

  it('when make users adds a user (password on stdin), then make users ls lists it and it can log in', async () => {
    await make(`users ARGS='add ${user.username}'`, `${user.password}\n`);
    expect((await make("users ARGS='ls'")).split(/\s/)).toContain(user.username);
    sessions.push({ username: admin(), cookie: (await loginAsAdmin()).cookie });
    sessions.push({ username: user.username, cookie: (await loginAs(user.username, user.password)).cookie });
    await expectSessionsWork();
  });

  it(
    'when make restart restarts the service, then every session and user survives',
    async () => {
      await make("restart ARGS='service'");
      await expectSessionsWork();
    },
    OPERATION_TIMEOUT_MS,
  );

  it(
    'when make restart restarts Redis, then every session and user survives and the user can log in again',
    async () => {
      await make("restart ARGS='redis'");
      await expectSessionsWork();
      await loginAs(user.username, user.password);
    },
    OPERATION_TIMEOUT_MS,
  );

  it(
    'when make rotate-secret runs, then a new secret comes first, the previous one stays, old sessions work and new logins too',
    async () => {
      const [before] = readEnvFile(envFile).SESSION_SECRETS!.split(',');
      await make('rotate-secret');
      const [newest, previous] = readEnvFile(envFile).SESSION_SECRETS!.split(',');
      expect(newest).not.toBe(before);
      expect(previous).toBe(before);
      await expectSessionsWork();
      expect(await signedInAs((await loginAsAdmin()).cookie)).toBe(admin());
    },
    OPERATION_TIMEOUT_MS,
  );

  it(
    'when make backup runs, then no value of the env file appears on any command line',
    async () => {
      const values = Object.values(readEnvFile(envFile)).flatMap((value) => value.split(',').map((v) => v.trim()));
      const watcher = watchCommandLines(values);
      try {
        await make('backup');
      } finally {
        expect(watcher.stop()).toEqual([]);
      }
    },
    OPERATION_TIMEOUT_MS,
  );
});
