import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { buildTestApp, createUser, login, sessionCookie, viaEdge, type TestApp } from '../helpers/test-app.ts';
import { expectEveryInputLabelled, inputNamed, textOf } from '../helpers/html-page.ts';

describe('HTML pages', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp();
  });
  afterAll(() => t.close());

  it('when GET /login, then an HTML form posting username and password to /login, with no inline script or style', async () => {
    const res = await viaEdge(t.app).get('/login');

    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toMatch(/<form method="post" action="\/login">/);
    expect(res.text).toMatch(/name="username"/);
    expect(res.text).toMatch(/name="password" type="password"/);
    expect(res.text).not.toMatch(/<script/i);
    expect(res.text).not.toMatch(/<style/i);
    expect(res.text).not.toMatch(/\sstyle=/i);
    expect(res.text).not.toMatch(/\son[a-z]+=/i);
    const csp = res.headers['content-security-policy'] as string;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    // no-referrer would make browsers send `Origin: null` on our own form posts (then 403).
    expect(res.headers['referrer-policy']).toBe('same-origin');
  });

  it('when the stylesheet is requested, then CSS that may be cached', async () => {
    const res = await viaEdge(t.app).get('/static/app.css');

    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/css/);
    expect(res.headers['cache-control']).toMatch(/max-age/);
    const again = await viaEdge(t.app)
      .get('/static/app.css')
      .set('If-None-Match', res.headers.etag as string);
    expect(again.status).toBe(304);
  });

  it('when GET / without a session, then 303 to /login', async () => {
    const res = await viaEdge(t.app).get('/');

    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/login');
  });

  it('when the login form is posted with the right credentials, then 303 to / and the dashboard shows the username, the session times and a log-out form', async () => {
    const { username, password } = await createUser(t);
    // The dashboard lists the browser of each session: whatever a client sent must be escaped.
    const userAgent = 'dash-<b>&"agent"';

    const res = await viaEdge(t.app)
      .post('/login')
      .set('User-Agent', userAgent)
      .type('form')
      .send({ username, password });
    const cookie = sessionCookie(res)!;
    const dashboard = await viaEdge(t.app).get('/').set('Cookie', cookie);

    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/');
    expect(dashboard.status).toBe(200);
    expect(dashboard.headers['cache-control']).toBe('no-store');
    expect(dashboard.text).toContain(username);
    expect(dashboard.text).toContain('dash-&lt;b&gt;&amp;&quot;agent&quot;');
    expect(dashboard.text).not.toContain('<b>');
    expect(dashboard.text).toMatch(/Expires if idle/);
    expect(dashboard.text).toMatch(/<form method="post" action="\/logout">/);
  }, 15000);

  it('when the login form is posted with a wrong password, then the form again with 401 and the typed username kept', async () => {
    const { username } = await createUser(t);

    const res = await viaEdge(t.app).post('/login').type('form').send({ username, password: 'nope nope nope' });

    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toContain('Wrong username or password.');
    expect(res.text).toContain(`value="${username}"`);
    expect(res.headers['set-cookie']).toBeUndefined();
  });

  it('when GET /login while signed in, then 303 to /', async () => {
    const { username, password } = await createUser(t);
    const cookie = await login(t, username, password);

    const res = await viaEdge(t.app).get('/login').set('Cookie', cookie);

    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/');
  });

  it('when the dashboard has several sessions, then it lists them and revoke buttons end the other ones', async () => {
    const { username, password } = await createUser(t);
    const mine = await login(t, username, password);
    const other = await login(t, username, password);
    const third = await login(t, username, password);

    const page = await viaEdge(t.app).get('/').set('Cookie', mine);
    const revokeAction = /action="(\/sessions\/[^"]+\/revoke)"/.exec(page.text)![1]!;
    const revoked = await viaEdge(t.app).post(revokeAction).set('Cookie', mine);
    const othersGone = await viaEdge(t.app).post('/sessions/revoke-others').set('Cookie', mine);

    expect(page.text.match(/<tr( class="current")?>\n {2}<td>/g)).toHaveLength(3);
    expect(revoked.status).toBe(303);
    expect(othersGone.status).toBe(303);
    expect((await viaEdge(t.app).get('/api/me').set('Cookie', other)).status).toBe(401);
    expect((await viaEdge(t.app).get('/api/me').set('Cookie', third)).status).toBe(401);
    expect((await viaEdge(t.app).get('/api/me').set('Cookie', mine)).status).toBe(200);
  });

  it('when the log-out form is posted, then 303 and the session is over', async () => {
    const { username, password } = await createUser(t);
    const cookie = await login(t, username, password);

    const res = await viaEdge(t.app).post('/logout').set('Cookie', cookie);

    expect(res.status).toBe(303);
    expect((await viaEdge(t.app).get('/api/me').set('Cookie', cookie)).status).toBe(401);
  });

  it('when the session forms are posted without a session, then 303 to /login', async () => {
    for (const path of ['/sessions/revoke-others', '/sessions/abc/revoke']) {
      const res = await viaEdge(t.app).post(path);
      expect({ path, status: res.status, location: res.headers.location }).toEqual({
        path,
        status: 303,
        location: '/login',
      });
    }
  });
});

describe('the page shell and the login form, for screen readers and password managers', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp();
  });
  afterAll(() => t.close());

  it('when GET /login, then the title names the page and the product, the product name is visible, and the inputs carry username/current-password autocomplete and labels', async () => {
    const res = await viaEdge(t.app).get('/login');

    expect(res.text).toContain('<title>Sign in · authstack</title>');
    expect(res.text).toMatch(/<header[^>]*>.*authstack.*<\/header>/);
    expect(inputNamed(res.text, 'username').autocomplete).toBe('username');
    expect(inputNamed(res.text, 'password').autocomplete).toBe('current-password');
    expectEveryInputLabelled(res.text);
  });

  it('when the login form is refused, then the error is tied to the password input (aria-describedby, aria-invalid), which gets the focus, and the title says Error', async () => {
    const { username } = await createUser(t);

    const res = await viaEdge(t.app).post('/login').type('form').send({ username, password: 'not the password' });
    const password = inputNamed(res.text, 'password');

    expect(res.status).toBe(401);
    expect(res.text).toContain('<title>Error: Sign in · authstack</title>');
    expect(password['aria-describedby']).toBe('password-error');
    expect(password['aria-invalid']).toBe('true');
    expect(password).toHaveProperty('autofocus');
    expect(textOf(res.text, 'password-error')).toBe('Wrong username or password.');
  });

  it('when the stylesheet is served, then it gives keyboard focus a visible outline', async () => {
    const res = await viaEdge(t.app).get('/static/app.css');

    expect(res.text).toMatch(/:focus-visible\s*\{[^}]*outline:\s*\d+px solid/);
  });

  it('when the dashboard is shown, then it links to the change-password page', async () => {
    const { username, password } = await createUser(t);
    const cookie = await login(t, username, password);

    const res = await viaEdge(t.app).get('/').set('Cookie', cookie);

    expect(res.text).toContain('<a href="/password">Change password</a>');
    expect(res.text).toContain('<title>Dashboard · authstack</title>');
  });

  it('when the dashboard URL names an unknown notice, then no notice is shown (the URL cannot put text on the page)', async () => {
    const { username, password } = await createUser(t);
    const cookie = await login(t, username, password);

    const res = await viaEdge(t.app).get('/?notice=%3Cb%3Eplanted').set('Cookie', cookie);

    expect(res.status).toBe(200);
    expect(res.text).not.toContain('class="notice"');
    expect(res.text).not.toContain('planted');
  });
});
