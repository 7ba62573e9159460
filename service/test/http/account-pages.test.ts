import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../../src/auth/password-policy.ts';
import {
  GOOD_PASSWORD,
  buildTestApp,
  createUser,
  login,
  uniqueUsername,
  viaEdge,
  type TestApp,
} from '../helpers/test-app.ts';
import { cookieOf, expectEveryInputLabelled, inputNamed, textOf } from '../helpers/html-page.ts';

describe('the change-password page', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ LOGIN_MAX_CONSECUTIVE_FAILURES: '3' });
  });
  afterAll(() => t.close());

  const NEW_PASSWORD = 'a brand new long passphrase';
  const changePassword = (cookie: string, fields: Record<string, string>) =>
    viaEdge(t.app).post('/password').set('Cookie', cookie).type('form').send(fields);

  it('when signed out, then GET and POST /password answer 303 to /login', async () => {
    const shown = await viaEdge(t.app).get('/password');
    const posted = await viaEdge(t.app)
      .post('/password')
      .type('form')
      .send({ currentPassword: 'x', newPassword: NEW_PASSWORD });

    expect([shown.status, shown.headers.location]).toEqual([303, '/login']);
    expect([posted.status, posted.headers.location]).toEqual([303, '/login']);
  });

  it('when GET /password signed in, then a form posting to /password with username, current-password and new-password autocomplete, every input labelled, and the policy limits beside the new password', async () => {
    const { username, password } = await createUser(t);
    const cookie = await login(t, username, password);

    const res = await viaEdge(t.app).get('/password').set('Cookie', cookie);
    const newPassword = inputNamed(res.text, 'newPassword');

    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.text).toContain('<title>Change password · authstack</title>');
    expect(res.text).toMatch(/<form method="post" action="\/password">/);
    expect(inputNamed(res.text, 'username')).toMatchObject({ autocomplete: 'username', value: username, readonly: '' });
    expect(inputNamed(res.text, 'currentPassword')).toMatchObject({
      type: 'password',
      autocomplete: 'current-password',
    });
    expect(newPassword).toMatchObject({
      type: 'password',
      autocomplete: 'new-password',
      minlength: String(PASSWORD_MIN_LENGTH),
      maxlength: String(PASSWORD_MAX_LENGTH),
    });
    expect(newPassword['aria-describedby']).toBe('newPassword-hint');
    expect(textOf(res.text, 'newPassword-hint')).toContain(
      `at least ${PASSWORD_MIN_LENGTH} and at most ${PASSWORD_MAX_LENGTH} characters`,
    );
    expectEveryInputLabelled(res.text);
    expect(res.text).not.toMatch(/<script|<style|\sstyle=|\son[a-z]+=/i);
  });

  it('when the current password is right, then 303 to the dashboard with a notice, every other session is signed out (401 on /api/me), and only the new password logs in', async () => {
    const { user, username, password } = await createUser(t);
    const mine = await login(t, username, password);
    const other = await login(t, username, password);

    const res = await changePassword(mine, { username, currentPassword: password, newPassword: NEW_PASSWORD });
    const renewed = cookieOf(res);
    const dashboard = await viaEdge(t.app).get(res.headers.location!).set('Cookie', renewed);

    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/?notice=password-changed');
    expect(dashboard.status).toBe(200);
    expect(dashboard.text).toMatch(/<p class="notice" role="status">[^<]*other sessions were signed out/);
    expect((await viaEdge(t.app).get('/api/me').set('Cookie', other)).status).toBe(401);
    expect((await viaEdge(t.app).get('/api/me').set('Cookie', mine)).status).toBe(401);
    expect((await viaEdge(t.app).get('/api/me').set('Cookie', renewed)).status).toBe(200);
    expect((await viaEdge(t.app).post('/api/login').send({ username, password })).status).toBe(401);
    await login(t, username, NEW_PASSWORD);
    // The same audit event as the JSON API's password change.
    expect(t.logs.events('user.password_changed').filter((e) => e.userId === user.id)).toEqual([
      expect.objectContaining({ revokedSessions: 1 }),
    ]);
  });

  it('when the current password is wrong, then 401 and the form again, the error tied to the current-password input, a password_change.failure event, and the password unchanged', async () => {
    const { user, username, password } = await createUser(t);
    const mine = await login(t, username, password);

    const res = await changePassword(mine, { currentPassword: 'not my password', newPassword: NEW_PASSWORD });
    const current = inputNamed(res.text, 'currentPassword');

    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toContain('<title>Error: Change password · authstack</title>');
    expect(current).toMatchObject({
      'aria-describedby': 'currentPassword-error',
      'aria-invalid': 'true',
      autofocus: '',
    });
    expect(textOf(res.text, 'currentPassword-error')).toBe('The current password is wrong.');
    expect(res.text).not.toContain('not my password');
    expect(t.logs.events('password_change.failure').some((e) => e.userId === user.id)).toBe(true);
    expect((await viaEdge(t.app).get('/api/me').set('Cookie', mine)).status).toBe(200);
    await login(t, username, password);
  });

  it('when the new password breaks the policy, then 400 and the form again, the error tied to the new-password input beside the policy hint', async () => {
    const { username, password } = await createUser(t);
    const mine = await login(t, username, password);

    const short = await changePassword(mine, { currentPassword: password, newPassword: 'short' });
    const common = await changePassword(mine, { currentPassword: password, newPassword: 'qwerty123456' });

    for (const res of [short, common]) {
      expect(res.status).toBe(400);
      expect(inputNamed(res.text, 'newPassword')).toMatchObject({
        'aria-describedby': 'newPassword-hint newPassword-error',
        'aria-invalid': 'true',
      });
      expect(inputNamed(res.text, 'currentPassword')).not.toHaveProperty('aria-invalid');
    }
    expect(textOf(short.text, 'newPassword-error')).toBe(
      `Password must be at least ${PASSWORD_MIN_LENGTH} characters.`,
    );
    expect(textOf(common.text, 'newPassword-error')).toMatch(/commonly used passwords/);
    await login(t, username, password);
  });

  it('when a field is empty, missing or repeated, then 400 and the form again with the error on that input, never a 5xx', async () => {
    const { username, password } = await createUser(t);
    const mine = await login(t, username, password);

    const empty = await changePassword(mine, { currentPassword: '', newPassword: NEW_PASSWORD });
    const missing = await changePassword(mine, { newPassword: NEW_PASSWORD });
    const repeated = await viaEdge(t.app)
      .post('/password')
      .set('Cookie', mine)
      .type('form')
      .send(`currentPassword=a&currentPassword=b&newPassword=${NEW_PASSWORD}`);

    expect(empty.status).toBe(400);
    expect(textOf(empty.text, 'currentPassword-error')).toBe('Current password is required.');
    expect(missing.status).toBe(400);
    expect(inputNamed(missing.text, 'currentPassword')['aria-invalid']).toBe('true');
    expect(repeated.status).toBe(400);
    expect(inputNamed(repeated.text, 'currentPassword')['aria-invalid']).toBe('true');
  });

  it('when wrong current passwords repeat, then the login throttle answers 429 with Retry-After and a message above the form, even for the right password', async () => {
    const { username, password } = await createUser(t);
    const mine = await login(t, username, password);

    const statuses: number[] = [];
    for (let i = 0; i < 3; i += 1)
      statuses.push(
        (await changePassword(mine, { currentPassword: 'wrong wrong wrong', newPassword: NEW_PASSWORD })).status,
      );
    const blocked = await changePassword(mine, { currentPassword: password, newPassword: NEW_PASSWORD });

    expect(statuses).toEqual([401, 401, 401]);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    expect(blocked.text).toMatch(/<p class="error" role="alert" id="form-error">Too many attempts/);
  });

  it('when the form is posted from another site, then 403 and the password is unchanged', async () => {
    const { username, password } = await createUser(t);
    const mine = await login(t, username, password);

    const res = await changePassword(mine, { currentPassword: password, newPassword: NEW_PASSWORD }).set(
      'Sec-Fetch-Site',
      'cross-site',
    );

    expect(res.status).toBe(403);
    await login(t, username, password);
  });
});

describe('the sign-up page, when sign-up is off (the default)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp();
  });
  afterAll(() => t.close());

  it('when GET or POST /register, then the same 404 as any unknown path, and no user is created', async () => {
    const username = uniqueUsername();
    const unknown = await viaEdge(t.app).get('/no-such-page');

    const shown = await viaEdge(t.app).get('/register');
    const posted = await viaEdge(t.app).post('/register').type('form').send({ username, password: GOOD_PASSWORD });

    for (const res of [shown, posted]) {
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toBe(unknown.headers['content-type']);
      expect(res.text).toBe(unknown.text);
    }
    expect(await t.domain.users.findByUsername(username)).toBeUndefined();
  });

  it('when GET /login, then it does not link to /register', async () => {
    const res = await viaEdge(t.app).get('/login');

    expect(res.text).not.toContain('/register');
  });
});

describe('the sign-up page, when sign-up is on', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ SIGNUP_ENABLED: 'true', SIGNUP_MAX_PER_IP_PER_HOUR: '3' });
  });
  afterAll(() => t.close());

  // Each test from its own address: the sign-up limit is per IP.
  const register = (ip: string, fields: Record<string, string>) =>
    viaEdge(t.app).post('/register').set('X-Forwarded-For', ip).type('form').send(fields);

  it('when GET /login, then it links to /register', async () => {
    const res = await viaEdge(t.app).get('/login');

    expect(res.text).toContain('<a href="/register">');
  });

  it('when GET /register, then a form posting to /register with username and new-password autocomplete, every input labelled, and the policy limits beside the password', async () => {
    const res = await viaEdge(t.app).get('/register');
    const password = inputNamed(res.text, 'password');

    expect(res.status).toBe(200);
    expect(res.text).toContain('<title>Create an account · authstack</title>');
    expect(res.text).toMatch(/<form method="post" action="\/register">/);
    expect(inputNamed(res.text, 'username')).toMatchObject({ type: 'text', autocomplete: 'username' });
    expect(password).toMatchObject({
      type: 'password',
      autocomplete: 'new-password',
      'aria-describedby': 'password-hint',
    });
    expect(textOf(res.text, 'password-hint')).toContain(
      `at least ${PASSWORD_MIN_LENGTH} and at most ${PASSWORD_MAX_LENGTH} characters`,
    );
    expectEveryInputLabelled(res.text);
    expect(res.text).toContain('<a href="/login">');
  });

  it('when a new username is posted, then 303 to the dashboard signed in as that user with a notice, and the same audit events as the API (user.created, user.registered)', async () => {
    const username = uniqueUsername();

    const res = await register('192.0.2.11', { username, password: GOOD_PASSWORD });
    const dashboard = await viaEdge(t.app).get(res.headers.location!).set('Cookie', cookieOf(res));

    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/?notice=registered');
    expect(dashboard.status).toBe(200);
    expect(dashboard.text).toContain(username);
    expect(dashboard.text).toMatch(/<p class="notice" role="status">Your account was created/);
    const user = await t.domain.users.findByUsername(username);
    expect(t.logs.events('user.created').some((e) => e.userId === user!.id)).toBe(true);
    expect(t.logs.events('user.registered').some((e) => e.userId === user!.id)).toBe(true);
  });

  it('when the username is taken, then 409 and the form again with the error tied to the username input and the typed name kept', async () => {
    const { username } = await createUser(t);

    const res = await register('192.0.2.12', { username, password: GOOD_PASSWORD });
    const input = inputNamed(res.text, 'username');

    expect(res.status).toBe(409);
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(input).toMatchObject({
      value: username,
      'aria-describedby': 'username-hint username-error',
      'aria-invalid': 'true',
      autofocus: '',
    });
    expect(textOf(res.text, 'username-error')).toBe('That username is taken.');
  });

  it('when the password breaks the policy or the username has characters no username has, then 400 with the error on that input', async () => {
    const weak = await register('192.0.2.13', { username: uniqueUsername(), password: '1qaz2wsx3edc' });
    const badName = await register('192.0.2.13', { username: 'no spaces <allowed>', password: GOOD_PASSWORD });

    expect(weak.status).toBe(400);
    expect(inputNamed(weak.text, 'password')).toMatchObject({
      'aria-describedby': 'password-hint password-error',
      'aria-invalid': 'true',
    });
    expect(badName.status).toBe(400);
    expect(inputNamed(badName.text, 'username')['aria-invalid']).toBe('true');
    expect(textOf(badName.text, 'username-error')).toBe('Username may contain letters, digits and . _ @ - only.');
    // The typed name comes back escaped.
    expect(badName.text).toContain('value="no spaces &lt;allowed&gt;"');
  });

  it('when one address registers past the hourly limit, then 429 with Retry-After and a message above the form (the API shares the count)', async () => {
    const ip = '192.0.2.14';
    const viaApi = await viaEdge(t.app)
      .post('/api/register')
      .set('X-Forwarded-For', ip)
      .send({ username: uniqueUsername(), password: GOOD_PASSWORD });
    const statuses = [viaApi.status];
    for (let i = 0; i < 2; i += 1)
      statuses.push((await register(ip, { username: uniqueUsername(), password: GOOD_PASSWORD })).status);

    const blocked = await register(ip, { username: uniqueUsername(), password: GOOD_PASSWORD });

    expect(statuses).toEqual([201, 303, 303]);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    expect(blocked.text).toMatch(/<p class="error" role="alert" id="form-error">Too many attempts/);
  });

  it('when GET /register while signed in, then 303 to /', async () => {
    const { username, password } = await createUser(t);
    const cookie = await login(t, username, password);

    const res = await viaEdge(t.app).get('/register').set('Cookie', cookie);

    expect([res.status, res.headers.location]).toEqual([303, '/']);
  });
});
