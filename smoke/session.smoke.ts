import { describe, expect, it } from '@jest/globals';
import { loginAsAdmin, logout, parseSetCookie, randomUsername } from './support/auth.ts';
import { postJson, request } from './support/http.ts';
import { expectedClientIp, secret } from './support/stack.ts';

interface SessionsBody {
  sessions: Array<{ id: string; ip: string; current: boolean }>;
}

/** The ip the service recorded for the session behind `cookie`. */
async function currentSessionIp(cookie: string): Promise<string> {
  const response = await request('/api/sessions', { headers: { cookie } });
  expect(response.status).toBe(200);
  const current = response.json<SessionsBody>().sessions.filter((s) => s.current);
  expect(current).toHaveLength(1);
  return current[0]!.ip;
}

describe('login over HTTPS', () => {
  it('when the admin logs in, then two cookies: __Host-sid (Secure; HttpOnly; SameSite=Lax; Path=/) and the device cookie __Host-device (Secure; HttpOnly; SameSite=Strict)', async () => {
    const { response, cookie } = await loginAsAdmin();

    try {
      const cookies = response.all('set-cookie').map(parseSetCookie);
      expect(cookies.map((c) => c.name).sort()).toEqual(['__Host-device', '__Host-sid']);
      for (const parsed of cookies) {
        const attributes = parsed.attributes.map((a) => a.toLowerCase());
        expect(parsed.value).not.toBe('');
        expect(attributes).toEqual(
          expect.arrayContaining([
            'secure',
            'httponly',
            'path=/',
            parsed.name === '__Host-sid' ? 'samesite=lax' : 'samesite=strict',
          ]),
        );
        // __Host- cookies must not name a Domain.
        expect(attributes.some((a) => a.startsWith('domain='))).toBe(false);
      }
      expect(response.json()).toMatchObject({ user: { username: secret('ADMIN_USERNAME') } });
    } finally {
      await logout(cookie);
    }
  });

  it('when /api/me is called with the session cookie, then it returns the user, and after logout it is 401', async () => {
    const { cookie } = await loginAsAdmin();

    const before = await request('/api/me', { headers: { cookie } });
    const loggedOut = await logout(cookie);
    const after = await request('/api/me', { headers: { cookie } });

    expect(before.status).toBe(200);
    expect(before.json()).toMatchObject({ user: { username: secret('ADMIN_USERNAME') } });
    expect(loggedOut.status).toBe(204);
    expect(after.status).toBe(401);
    expect(after.json()).toMatchObject({ error: 'unauthenticated' });
  });

  it('when a wrong password is sent, then 401 invalid_credentials and no cookie', async () => {
    const response = await postJson('/api/login', { username: randomUsername(), password: 'not-the-password' });

    expect(response.status).toBe(401);
    expect(response.json()).toMatchObject({ error: 'invalid_credentials' });
    expect(response.all('set-cookie')).toEqual([]);
  });
});

describe('the real client IP', () => {
  it('when the admin logs in, then the session records the address the client connected from', async () => {
    const { cookie } = await loginAsAdmin({ localAddress: '127.0.0.1', family: 4 });

    try {
      expect(await currentSessionIp(cookie)).toBe(expectedClientIp ?? '127.0.0.1');
    } finally {
      await logout(cookie);
    }
  });

  // nginx reaches the service from 127.0.0.1; a client on another loopback address proves the
  // service takes the IP from nginx's X-Forwarded-For, not from its own socket.
  it('when the client connects from 127.0.0.2, then the session records 127.0.0.2, not the address nginx connects from', async () => {
    const { cookie } = await loginAsAdmin({ localAddress: '127.0.0.2', family: 4 });

    try {
      expect(await currentSessionIp(cookie)).toBe(expectedClientIp ?? '127.0.0.2');
    } finally {
      await logout(cookie);
    }
  });

  it('when the client sends a spoofed X-Forwarded-For, then the session still records its real address', async () => {
    const { cookie } = await loginAsAdmin({
      localAddress: '127.0.0.1',
      family: 4,
      headers: { 'x-forwarded-for': '203.0.113.7' },
    });

    try {
      const ip = await currentSessionIp(cookie);
      expect(ip).not.toContain('203.0.113.7');
      expect(ip).toBe(expectedClientIp ?? '127.0.0.1');
    } finally {
      await logout(cookie);
    }
  });

  // The service allows 10 consecutive failures per (username, IP). If a client-chosen
  // X-Forwarded-For picked the bucket, eleven attempts from eleven "addresses" would all be 401.
  it('when failed logins each spoof a different X-Forwarded-For, then they still share one throttle bucket and the 11th gets 429', async () => {
    const username = randomUsername();
    const statuses: number[] = [];

    for (let i = 1; i <= 10; i++) {
      const response = await postJson(
        '/api/login',
        { username, password: 'wrong' },
        { family: 4, headers: { 'x-forwarded-for': `198.51.100.${i}` } },
      );
      statuses.push(response.status);
    }
    const eleventh = await postJson(
      '/api/login',
      { username, password: 'wrong' },
      { family: 4, headers: { 'x-forwarded-for': '198.51.100.11' } },
    );

    expect(statuses).toEqual(Array(10).fill(401));
    expect(eleventh.status).toBe(429);
    expect(eleventh.json()).toMatchObject({ error: 'too_many_attempts' });
    expect(eleventh.one('retry-after')).toMatch(/^\d+$/);
  });
});
