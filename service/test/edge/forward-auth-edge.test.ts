import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { httpClient } from '../../../testkit/http.ts';
import { freePorts } from '../../../testkit/ports.ts';
import { suiteScratchDir } from '../../../testkit/scratch-dir.ts';
import { serveBehindEdge, type ServedBehindEdge } from '../helpers/served.ts';
import { buildTestApp, createUser, type TestApp } from '../helpers/test-app.ts';

/**
 * Issue #20 through real nginx running the project's configuration (nginx/snippets/protect.conf
 * in front of the demo app at /demo/) and the real app: the redirect to sign in and back, the
 * identity headers, and that a client's own Remote-* headers never reach the service.
 */
describe('forward auth at the edge', () => {
  const dir = suiteScratchDir('forward-auth-edge-');
  let t: TestApp;
  let edge: ServedBehindEdge;
  let origin: string;
  let member: { username: string; password: string };
  let outsider: { username: string; password: string };

  const client = () => httpClient({ origin, caFiles: [edge.caFile] });
  const signIn = async (who: { username: string; password: string }) => {
    const res = await client().send('/api/login', { headers: { origin }, json: who });
    expect(res.status).toBe(200);
    return res.cookie()!;
  };
  const demo = (cookie?: string, headers: Record<string, string> = {}, path = '/demo/page?a=1&b=2') =>
    client().send(path, { headers: { accept: 'application/json', ...headers, ...(cookie ? { cookie } : {}) } });

  beforeAll(async () => {
    const [https, http] = (await freePorts(2)) as [number, number];
    origin = `https://localhost:${https}`;
    const rulesFile = join(dir, 'rules.json');
    writeFileSync(
      rulesFile,
      JSON.stringify({ rules: [{ name: 'demo', host: 'localhost', path: '/demo/', groups: ['demo'] }] }),
    );
    t = await buildTestApp({ PUBLIC_ORIGIN: origin, ACCESS_RULES_FILE: rulesFile });
    edge = await serveBehindEdge(t.app, { PUBLIC_ORIGIN: origin }, { ports: { https, http } });
    const m = await createUser(t);
    await t.domain.accounts.changeGroups(m.user, { add: ['demo'] });
    member = { username: m.username, password: m.password };
    const o = await createUser(t);
    outsider = { username: o.username, password: o.password };
  });
  afterAll(async () => {
    await edge?.close();
    await t?.close();
  });

  it('when a signed-out browser opens the demo app, then nginx answers 302 to the login page with the demo URL as return target', async () => {
    const res = await demo();
    expect(res.status).toBe(302);
    const location = new URL(res.one('location'));
    expect(`${location.origin}${location.pathname}`).toBe(`${origin}/login`);
    expect(location.searchParams.get('rd')).toBe(`${origin}/demo/page?a=1&b=2`);
  });

  it('when a member signs in with that target, then the login lands on the demo URL, and the app receives the member’s name and groups', async () => {
    const rd = `${origin}/demo/page?a=1&b=2`;
    const body = new URLSearchParams({ username: member.username, password: member.password, rd }).toString();
    const login = await client().send('/login', {
      method: 'POST',
      headers: { origin, 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
    expect(login.status).toBe(303);
    expect(login.one('location')).toBe(rd);
    const res = await demo(login.cookie());
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({
      identity: { 'Remote-User': member.username, 'Remote-Groups': 'demo', 'Remote-Name': member.username },
      path: '/demo/page',
    });
  });

  it('when a signed-in member sends Remote-User: admin themselves, then the app sees the member, never the forged name', async () => {
    const res = await demo(await signIn(member), { 'remote-user': 'admin', 'remote-groups': 'admins' });
    expect(res.json<{ identity: Record<string, string> }>().identity).toMatchObject({
      'Remote-User': member.username,
      'Remote-Groups': 'demo',
    });
  });

  it('when a client sends Remote-User to another spelling of the path, then it reaches no app with it', async () => {
    for (const path of ['/DEMO/page', '/Demo/page', '/demo', '/api/me']) {
      const res = await demo(undefined, { 'remote-user': 'admin' }, path);
      expect({ path, status: res.status, body: res.body }).not.toMatchObject({
        body: expect.stringContaining('admin'),
      });
      // 301: nginx's own redirect of /demo to /demo/ (a proxied prefix location).
      expect([301, 302, 401, 404]).toContain(res.status);
    }
  });

  it('when a signed-in user outside the rule opens the demo app, then 403 with a JSON body', async () => {
    const res = await demo(await signIn(outsider));
    expect(res.status).toBe(403);
    expect(res.json()).toMatchObject({ error: 'forbidden' });
  });

  it('when the member signs out, then the very next demo request is sent to the login page', async () => {
    const cookie = await signIn(member);
    expect((await demo(cookie)).status).toBe(200);
    expect((await client().send('/api/logout', { method: 'POST', headers: { origin, cookie } })).status).toBe(204);
    expect((await demo(cookie)).status).toBe(302);
  });
});
