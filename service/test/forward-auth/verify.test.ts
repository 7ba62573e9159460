import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { suiteScratchDir } from '../../../testkit/scratch-dir.ts';
import {
  GOOD_PASSWORD,
  buildTestApp,
  createUser,
  login,
  metricValue,
  sessionCookie,
  viaEdge,
  type TestApp,
} from '../helpers/test-app.ts';

const APP = 'https://app.example.test';
const RULES = {
  rules: [
    { name: 'demo', host: 'app.example.test', path: '/demo/', groups: ['staff'] },
    { name: 'reports-read', host: 'app.example.test', path: '/reports', methods: ['GET'], groups: ['staff'] },
  ],
};

/**
 * Issue #20: GET /api/verify answers nginx's auth_request from the session cookie and the
 * original request the edge names (X-Original-URL, X-Original-Method), against the access rules.
 */
describe('forward auth: GET /api/verify', () => {
  const dir = suiteScratchDir('forward-auth-');
  const rulesFile = join(dir, 'rules.json');
  let t: TestApp;
  let staff: { cookie: string; username: string; id: string };
  let outsider: { cookie: string; username: string };

  const verify = (url: string, cookie?: string, method = 'GET') => {
    const req = viaEdge(t.app).get('/api/verify').set('X-Original-URL', url).set('X-Original-Method', method);
    return cookie ? req.set('Cookie', cookie) : req;
  };
  const sessionKeys = async () => (await t.redis.keys(`${t.prefix}sess:*`)).length;

  beforeAll(async () => {
    writeFileSync(rulesFile, JSON.stringify(RULES));
    t = await buildTestApp({ ACCESS_RULES_FILE: rulesFile });
    const a = await createUser(t);
    await t.domain.accounts.changeGroups(a.user, { add: ['staff'] });
    staff = { cookie: await login(t, a.username, a.password), username: a.username, id: a.user.id };
    const b = await createUser(t);
    outsider = { cookie: await login(t, b.username, b.password), username: b.username };
  });
  afterAll(() => t.close());

  it('when a user in the rule’s group asks, then 204 with Remote-User, Remote-Groups and Remote-Name, no cookie set and no session written', async () => {
    const before = await sessionKeys();
    const res = await verify(`${APP}/demo/page?x=1`, staff.cookie);
    expect(res.status).toBe(204);
    expect(res.headers['remote-user']).toBe(staff.username);
    expect(res.headers['remote-groups']).toBe('staff');
    expect(res.headers['remote-name']).toBe(staff.username);
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(await sessionKeys()).toBe(before);
    expect(
      await metricValue(t.metrics, 'auth_forward_auth_decisions_total', { decision: 'allowed', rule: 'demo' }),
    ).toBe(1);
    expect(t.logs.events('forward_auth.decision').at(-1)).toMatchObject({
      decision: 'allowed',
      rule: 'demo',
      userId: staff.id,
      host: 'app.example.test',
      path: '/demo/page',
      method: 'GET',
    });
  });

  it('when nobody is signed in, then 401 with a JSON body and a Location to the login page returning to the original URL, and no session is created', async () => {
    const before = await sessionKeys();
    const res = await verify(`${APP}/demo/page?a=1&b=2`);
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ error: 'unauthenticated' });
    const location = new URL(res.headers.location!);
    expect(location.origin + location.pathname).toBe(`${t.config.publicOrigin}/login`);
    expect(location.searchParams.get('rd')).toBe(`${APP}/demo/page?a=1&b=2`);
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(await sessionKeys()).toBe(before);
    expect(await metricValue(t.metrics, 'auth_forward_auth_decisions_total', { decision: 'unauthenticated' })).toBe(1);
  });

  it('when the original URL is on a host no rule protects, then the 401 sends to the login page without a return target', async () => {
    const res = await verify('https://evil.example/demo/');
    expect(res.status).toBe(401);
    expect(res.headers.location).toBe(`${t.config.publicOrigin}/login`);
  });

  it('when a signed-in user outside the group asks, then 403 forbidden with a JSON body', async () => {
    const res = await verify(`${APP}/demo/`, outsider.cookie);
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ error: 'forbidden' });
    expect(res.headers['remote-user']).toBeUndefined();
    // The audit event is on the request's own log line, with its status.
    expect(t.logs.events('forward_auth.decision').at(-1)).toMatchObject({
      decision: 'denied',
      rule: 'demo',
      res: { statusCode: 403 },
    });
  });

  it('when a rule admits GET only, then the same user is denied a POST', async () => {
    expect((await verify(`${APP}/reports/q1`, staff.cookie, 'GET')).status).toBe(204);
    expect((await verify(`${APP}/reports/q1`, staff.cookie, 'POST')).status).toBe(403);
  });

  it('when the path walks out of a prefix with dot segments or encodings, then the resolved path decides', async () => {
    expect((await verify(`${APP}/demo/../admin`, staff.cookie)).status).toBe(403);
    expect((await verify(`${APP}/demo/%2e%2e/admin`, staff.cookie)).status).toBe(403);
    expect((await verify(`${APP}/other/..%2Fdemo/x`, staff.cookie)).status).toBe(204);
  });

  it('when the edge did not name the original request, then 400 invalid_request', async () => {
    const res = await viaEdge(t.app).get('/api/verify').set('Cookie', staff.cookie);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_request' });
    expect((await verify('not a url', staff.cookie)).status).toBe(400);
  });

  it('when the rules file changes and is reloaded, then the new rules decide and nobody is signed out; an invalid file keeps the rules in force', async () => {
    writeFileSync(
      rulesFile,
      JSON.stringify({
        rules: [{ name: 'wiki', host: 'app.example.test', path: '/wiki/', users: [outsider.username] }],
      }),
    );
    expect(t.domain.access.reload()).toBe(true);
    expect((await verify(`${APP}/wiki/`, outsider.cookie)).status).toBe(204);
    expect((await verify(`${APP}/demo/`, staff.cookie)).status).toBe(403);

    writeFileSync(rulesFile, '{"rules": [{"name": "broken"}]}');
    expect(t.domain.access.reload()).toBe(false);
    expect(t.logs.events('access_rules.invalid')).toHaveLength(1);
    expect((await verify(`${APP}/wiki/`, outsider.cookie)).status).toBe(204);

    writeFileSync(rulesFile, JSON.stringify(RULES));
    expect(t.domain.access.reload()).toBe(true);
    expect((await verify(`${APP}/demo/`, staff.cookie)).status).toBe(204);
  });

  describe('sign-out is immediate', () => {
    const signedIn = async () => {
      const { user, username, password } = await createUser(t);
      await t.domain.accounts.changeGroups(user, { add: ['staff'] });
      return { user, username, password, cookie: await login(t, username, password) };
    };

    it('when the user logs out, then the next verify is 401', async () => {
      const u = await signedIn();
      expect((await verify(`${APP}/demo/`, u.cookie)).status).toBe(204);
      await viaEdge(t.app).post('/api/logout').set('Cookie', u.cookie).set('Origin', t.config.publicOrigin);
      expect((await verify(`${APP}/demo/`, u.cookie)).status).toBe(401);
    });

    it('when the user changes their password elsewhere, then this session’s next verify is 401', async () => {
      const u = await signedIn();
      const other = await login(t, u.username, u.password);
      const changed = await viaEdge(t.app)
        .post('/api/password')
        .set('Cookie', other)
        .set('Origin', t.config.publicOrigin)
        .send({ currentPassword: u.password, newPassword: `${GOOD_PASSWORD} again` });
      expect(changed.status).toBe(204);
      expect((await verify(`${APP}/demo/`, u.cookie)).status).toBe(401);
    });

    it('when the user signs out everywhere else, then the other session’s next verify is 401', async () => {
      const u = await signedIn();
      const other = await login(t, u.username, u.password);
      const res = await viaEdge(t.app)
        .delete('/api/sessions')
        .set('Cookie', other)
        .set('Origin', t.config.publicOrigin);
      expect(res.status).toBe(204);
      expect((await verify(`${APP}/demo/`, u.cookie)).status).toBe(401);
      expect((await verify(`${APP}/demo/`, other)).status).toBe(204);
    });

    it('when the user is removed from the group, then their sessions end and the next sign-in is 403', async () => {
      const u = await signedIn();
      await t.domain.accounts.changeGroups((await t.domain.users.findById(u.user.id))!, { remove: ['staff'] });
      expect((await verify(`${APP}/demo/`, u.cookie)).status).toBe(401);
      expect((await verify(`${APP}/demo/`, await login(t, u.username, u.password))).status).toBe(403);
    });
  });

  describe('signing in with a return target', () => {
    it('when the login form carries an allowed rd, then the sign-in lands on it', async () => {
      const { username, password } = await createUser(t);
      const rd = `${APP}/demo/page?a=1&b=2`;
      const page = await viaEdge(t.app).get(`/login?rd=${encodeURIComponent(rd)}`);
      expect(page.text).toContain(`name="rd" value="${rd.replace(/&/g, '&amp;')}"`);
      const res = await viaEdge(t.app)
        .post('/login')
        .set('Origin', t.config.publicOrigin)
        .type('form')
        .send({ username, password, rd });
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe(rd);
      expect(sessionCookie(res)).toBeDefined();
    });

    it.each(['//evil.example/', 'https://app.example.test.evil.example/', '/\\evil.example', 'javascript:alert(1)'])(
      'when the rd is %s, then the sign-in lands on the dashboard',
      async (rd) => {
        const { username, password } = await createUser(t);
        const page = await viaEdge(t.app).get(`/login?rd=${encodeURIComponent(rd)}`);
        expect(page.text).not.toContain('name="rd"');
        const res = await viaEdge(t.app)
          .post('/login')
          .set('Origin', t.config.publicOrigin)
          .type('form')
          .send({ username, password, rd });
        expect(res.status).toBe(303);
        expect(res.headers.location).toBe('/');
      },
    );

    it('when a signed-in user opens the login page with an allowed rd, then they are sent straight there', async () => {
      const res = await viaEdge(t.app)
        .get(`/login?rd=${encodeURIComponent(`${APP}/demo/`)}`)
        .set('Cookie', staff.cookie);
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe(`${APP}/demo/`);
    });
  });
});

describe('the session cookie for a parent domain (COOKIE_DOMAIN)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ COOKIE_DOMAIN: 'example.test' });
  });
  afterAll(() => t.close());

  it('when COOKIE_DOMAIN is set, then the session cookie is __Secure-sid with that Domain, and the device cookie stays __Host-', async () => {
    const { username, password } = await createUser(t);
    const res = await viaEdge(t.app).post('/api/login').send({ username, password });
    const cookies = res.headers['set-cookie'] as unknown as string[];
    const session = cookies.find((c) => c.startsWith('__Secure-sid='))!;
    expect(session).toMatch(/; Domain=example\.test(;|$)/);
    expect(session).toMatch(/; Secure/);
    expect(cookies.some((c) => c.startsWith('__Host-sid='))).toBe(false);
    expect(cookies.find((c) => c.startsWith('__Host-device='))).not.toMatch(/Domain=/i);
    const me = await viaEdge(t.app).get('/api/me').set('Cookie', session.split(';')[0]!);
    expect(me.body.user.username).toBe(username);
  });
});
