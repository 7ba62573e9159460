import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PUBLIC_ORIGIN, buildTestApp, createUser, login, viaEdge, type TestApp } from '../helpers/test-app.ts';

describe('cross-origin protection on unsafe methods', () => {
  let t: TestApp;
  let cookie: string;
  let credentials: { username: string; password: string };
  beforeAll(async () => {
    t = await buildTestApp();
    credentials = await createUser(t);
    cookie = await login(t, credentials.username, credentials.password);
  });
  afterAll(() => t.close());

  const unsafe: Array<[string, string]> = [
    ['post', '/api/login'],
    ['post', '/api/logout'],
    ['post', '/api/password'],
    ['delete', '/api/sessions'],
    ['delete', '/api/sessions/abc'],
    ['post', '/login'],
    ['post', '/logout'],
    ['put', '/api/me'],
    ['patch', '/api/me'],
  ];

  it.each(unsafe)('when %s %s comes with Sec-Fetch-Site: cross-site, then 403 cross_origin', async (method, path) => {
    const res = await (viaEdge(t.app) as unknown as Record<string, (p: string) => import('supertest').Test>)[method]!(
      path,
    )
      .set('Cookie', cookie)
      .set('Sec-Fetch-Site', 'cross-site');

    expect(res.status).toBe(403);
    expect(res.body).toEqual({ error: 'cross_origin', message: expect.any(String) });
  });

  it('when Sec-Fetch-Site is same-site (a sibling subdomain), then 403', async () => {
    const res = await viaEdge(t.app).post('/api/logout').set('Cookie', cookie).set('Sec-Fetch-Site', 'same-site');
    expect(res.status).toBe(403);
  });

  it('when Origin is another origin, then 403 and the session is untouched', async () => {
    const res = await viaEdge(t.app).post('/api/logout').set('Cookie', cookie).set('Origin', 'https://evil.example');

    expect(res.status).toBe(403);
    expect((await viaEdge(t.app).get('/api/me').set('Cookie', cookie)).status).toBe(200);
  });

  it('when Origin differs only by scheme or port, then 403', async () => {
    for (const origin of [PUBLIC_ORIGIN.replace('https:', 'http:'), `${PUBLIC_ORIGIN}:8443`, 'null']) {
      const res = await viaEdge(t.app).post('/api/login').set('Origin', origin).send(credentials);
      expect({ origin, status: res.status }).toEqual({ origin, status: 403 });
    }
  });

  it('when Origin is PUBLIC_ORIGIN and Sec-Fetch-Site is same-origin, then the request goes through', async () => {
    const res = await viaEdge(t.app)
      .post('/api/login')
      .set('Origin', PUBLIC_ORIGIN)
      .set('Sec-Fetch-Site', 'same-origin')
      .send(credentials);
    expect(res.status).toBe(200);
  });

  it('when Sec-Fetch-Site is none (typed into the address bar), then it passes', async () => {
    const res = await viaEdge(t.app).post('/api/login').set('Sec-Fetch-Site', 'none').send(credentials);
    expect(res.status).toBe(200);
  });

  it('when neither header is present (curl, scripts), then it passes', async () => {
    expect((await viaEdge(t.app).post('/api/login').send(credentials)).status).toBe(200);
  });

  it('when a safe method comes cross-site, then it is not blocked', async () => {
    const res = await viaEdge(t.app)
      .get('/api/me')
      .set('Cookie', cookie)
      .set('Sec-Fetch-Site', 'cross-site')
      .set('Origin', 'https://evil.example');
    expect(res.status).toBe(200);
  });
});
