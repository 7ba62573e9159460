import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { buildTestApp, createUser, login, viaEdge, type TestApp } from '../helpers/test-app.ts';

describe('bad input gets a clear 4xx JSON error, never a 5xx', () => {
  let t: TestApp;
  let cookie: string;
  beforeAll(async () => {
    t = await buildTestApp({ SIGNUP_ENABLED: 'true' });
    const { username, password } = await createUser(t);
    cookie = await login(t, username, password);
  });
  afterAll(() => t.close());

  const post = (path: string, body: string, type = 'application/json') =>
    viaEdge(t.app).post(path).set('Content-Type', type).set('Cookie', cookie).send(body);

  it('when the JSON is malformed, then 400 invalid_request', async () => {
    for (const body of ['{', '{"username": }', 'nul', '{"a":1}}', '\u0000']) {
      const res = await post('/api/login', body);
      expect({ body, status: res.status, error: res.body.error }).toEqual({
        body,
        status: 400,
        error: 'invalid_request',
      });
    }
  });

  it('when the body is 1 MB, then 413 payload_too_large', async () => {
    const res = await post('/api/login', JSON.stringify({ username: 'a', password: 'x'.repeat(1024 * 1024) }));

    expect(res.status).toBe(413);
    expect(res.body.error).toBe('payload_too_large');
  });

  it('when the content type is wrong, then 415 unsupported_media_type', async () => {
    for (const type of ['text/plain', 'application/xml', 'multipart/form-data; boundary=x']) {
      const res = await post('/api/login', '{"username":"a","password":"b"}', type);
      expect({ type, status: res.status, error: res.body.error }).toEqual({
        type,
        status: 415,
        error: 'unsupported_media_type',
      });
    }
  });

  it('when the charset is unsupported, then 415', async () => {
    const res = await post('/api/login', '{"username":"a","password":"b"}', 'application/json; charset=klingon');
    expect(res.status).toBe(415);
  });

  it('when fields have the wrong types or are deeply nested, then 400', async () => {
    let nested = '"x"';
    for (let i = 0; i < 2000; i += 1) nested = `{"a":${nested}}`;
    for (const body of [
      '{"username":null,"password":"x"}',
      '{"username":{"$gt":""},"password":"x"}',
      '{"username":"a","password":true}',
      `{"username":${nested},"password":"x"}`,
      '[1,2,3]',
      '"str"',
      '42',
    ]) {
      const res = await post('/api/login', body);
      expect({ body: body.slice(0, 40), status: res.status }).toEqual({ body: body.slice(0, 40), status: 400 });
    }
  });

  it('when the username is over-long, then 400 invalid_request; when a password exceeds the limit, then 400', async () => {
    const longName = await post('/api/login', JSON.stringify({ username: 'u'.repeat(5000), password: 'x' }));
    const longPassword = await post('/api/login', JSON.stringify({ username: 'u', password: 'p'.repeat(4097) }));
    const registerLong = await post(
      '/api/register',
      JSON.stringify({ username: 'n'.repeat(65), password: 'a perfectly fine passphrase' }),
    );

    expect([longName.status, longName.body.error]).toEqual([400, 'invalid_request']);
    expect([longPassword.status, longPassword.body.error]).toEqual([400, 'invalid_request']);
    expect([registerLong.status, registerLong.body.error]).toEqual([400, 'invalid_request']);
  });

  it('when usernames and passwords contain unicode, NUL or control characters, then a 4xx and never a 5xx: 401 for a name that could exist, 400 for one that cannot', async () => {
    const cannotExist = new Set(['😀😀', 'a\u0000b', '\u202Eevil', 'line\nbreak', '   ']);
    for (const username of ['ünïcødé', '😀😀', 'a\u0000b', '\u202Eevil', 'line\nbreak', '   ', 'Ａｌｉｃｅ']) {
      const res = await post('/api/login', JSON.stringify({ username, password: 'pässwörd 😀 long enough' }));
      expect({ username, status: res.status }).toEqual({ username, status: cannotExist.has(username) ? 400 : 401 });
      const reg = await post('/api/register', JSON.stringify({ username, password: 'pässwörd 😀 long enough' }));
      expect(reg.status).toBeGreaterThanOrEqual(200);
      expect(reg.status).toBeLessThan(500);
    }
  });

  it('when a unicode password is registered, then exactly that password logs in and an NFKC look-alike username collides', async () => {
    const res = await post(
      '/api/register',
      JSON.stringify({ username: 'Zoë-unicode', password: 'pässwörd 😀 long enough' }),
    );
    const collide = await post(
      '/api/register',
      JSON.stringify({ username: 'ＺＯË-unicode', password: 'pässwörd 😀 long enough' }),
    );

    expect(res.status).toBe(201);
    expect(collide.status).toBe(409);
    expect(
      (await viaEdge(t.app).post('/api/login').send({ username: 'zoë-unicode', password: 'pässwörd 😀 long enough' }))
        .status,
    ).toBe(200);
  });

  it('when a form post repeats a parameter, then 400 (form re-rendered) rather than an error', async () => {
    const res = await viaEdge(t.app).post('/login').type('form').send('username=a&username=b&password=x');

    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
  });

  it('when the URL is malformed, then a 4xx JSON error', async () => {
    const res = await viaEdge(t.app).delete('/api/sessions/%E0%A4%A').set('Cookie', cookie);

    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.body.error).toBeDefined();
  });
});
