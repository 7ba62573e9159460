import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { suiteScratchDir } from '../../testkit/scratch-dir.ts';
import { buildTestApp, createUser, type TestApp } from '../../service/test/helpers/test-app.ts';
import { serveBehindEdge, type ServedBehindEdge } from '../../service/test/helpers/served.ts';
import { checkAdminLogin } from './access.ts';

/**
 * Issue #21: what `make up` prints is true. The login it prints is tried through the real edge
 * (nginx with the project's configuration, the real app); when the admin outlived its .env, the
 * check says so instead of printing a password that answers 401.
 */
describe('the login make up prints', () => {
  let t: TestApp;
  let edge: ServedBehindEdge;
  const dir = suiteScratchDir('access');
  const envFile = (password: string, username: string) => {
    const file = join(dir, `${password}.env`);
    writeFileSync(file, `ADMIN_USERNAME=${username}\nADMIN_PASSWORD=${password}\n`);
    return file;
  };
  beforeAll(async () => {
    t = await buildTestApp({ PUBLIC_ORIGIN: 'https://localhost' });
    edge = await serveBehindEdge(t.app);
  });
  afterAll(async () => {
    await edge.close();
    await t.close();
  });
  const at = (file: string) => ({
    origin: 'https://localhost',
    httpsPort: edge.port,
    caFile: edge.caFile,
    envFile: file,
  });

  it('when .env holds the admin password, then the login works and the check leaves no session behind', async () => {
    const { user, username, password } = await createUser(t);
    expect(await checkAdminLogin(at(envFile(password, username)))).toBe('works');
    expect(await t.redis.zCard(t.domain.keys.userSessions(user.id))).toBe(0);
  });

  it('when the admin exists with another password (an older .env), then the check says so', async () => {
    const { username } = await createUser(t);
    expect(await checkAdminLogin(at(envFile('a-newer-env-password-42', username)))).toBe('other-password');
  });

  it('when nothing answers, then the check says it could not try, with the reason', async () => {
    const { username, password } = await createUser(t);
    const check = await checkAdminLogin({ ...at(envFile(password, username)), httpsPort: 1 });
    expect(check).toMatch(/^unchecked: .*ECONNREFUSED/);
  });
});
