import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { buildTestApp, createUser, login, sessionCookie, type TestApp } from '../helpers/test-app.ts';

async function sessionIp(t: TestApp, cookie: string): Promise<string> {
  const res = await request(t.app).get('/api/sessions').set('X-Forwarded-Proto', 'https').set('Cookie', cookie);
  return (res.body.sessions as Array<{ ip: string; current: boolean }>).find((s) => s.current)!.ip;
}

/**
 * Issue #10.7: only the edge may set the client IP. X-Forwarded-For counts only from the
 * addresses TRUST_PROXY names (loopback natively, the backend subnet in compose); a request
 * from any other peer keeps its socket address, for the session and for the throttle.
 */
describe('trust proxy', () => {
  let edgeHere: TestApp;
  let edgeElsewhere: TestApp;
  beforeAll(async () => {
    // The tests connect over loopback: by default that is the edge; with the edge on another
    // subnet, the same loopback peer is just a client (whose X-Forwarded-Proto is not believed
    // either, so that app runs with plain-HTTP cookies).
    edgeHere = await buildTestApp();
    edgeElsewhere = await buildTestApp({ TRUST_PROXY: '172.30.97.0/24', COOKIE_SECURE: 'false' });
  });
  afterAll(async () => {
    await edgeHere.close();
    await edgeElsewhere.close();
  });

  it('when TRUST_PROXY is left at its default, then it is loopback, and X-Forwarded-For from the local edge names the client', async () => {
    const { username, password } = await createUser(edgeHere);
    const cookie = await login(edgeHere, username, password, { 'X-Forwarded-For': '203.0.113.9' });

    expect(edgeHere.config.trustProxy).toEqual(['loopback']);
    expect(await sessionIp(edgeHere, cookie)).toBe('203.0.113.9');
  });

  it('when a peer that is not the edge sends X-Forwarded-For, then the session records its socket address and its failures count on that address', async () => {
    const { username, password } = await createUser(edgeElsewhere);
    const attempt = (xff: string, pw: string) =>
      request(edgeElsewhere.app).post('/api/login').set('X-Forwarded-For', xff).send({ username, password: pw });
    const cookie = sessionCookie(await attempt('203.0.113.10', password), 'sid')!;
    const ip = await sessionIp(edgeElsewhere, cookie);
    // Rotating X-Forwarded-For does not give a fresh throttle bucket.
    for (let i = 0; i < 10; i += 1) await attempt(`203.0.113.${20 + i}`, 'wrong password!');
    const locked = await attempt('203.0.113.99', password);

    expect(ip).not.toBe('203.0.113.10');
    expect(ip).toMatch(/^(::ffff:)?127\.0\.0\.1$|^::1$/);
    expect(locked.status).toBe(429);
  });
});
