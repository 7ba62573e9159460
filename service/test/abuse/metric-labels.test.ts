import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { buildTestApp, type TestApp } from '../helpers/test-app.ts';
import { pool, serve } from '../helpers/served.ts';

/** The route table (app.ts and its routers): the only `route` labels there may ever be. */
const ROUTES = [
  '/healthz',
  '/readyz',
  '/metrics',
  '/static/app.css',
  '/api/login',
  '/api/logout',
  '/api/me',
  '/api/password',
  '/api/register',
  '/api/sessions',
  '/api/sessions/:id',
  '/',
  '/login',
  '/logout',
  '/sessions/revoke-others',
  '/sessions/:id/revoke',
  '<unmatched>',
];

/** A deterministic generator (seeded), so a failure reproduces. */
function random(seed: number) {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

/**
 * Issue #10.4: metric series are bounded by the route table. Express matches paths
 * case-insensitively and with trailing slashes; the label must be the declared template.
 */
describe('route labels', () => {
  let t: TestApp;
  let server: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    t = await buildTestApp();
    server = await serve(t.app);
  });
  afterAll(async () => {
    await server.close();
    await t.close();
  });

  it('when 10,000 requests come with random case, random paths and random methods, then no route label outside the route table appears', async () => {
    const next = random(20_260_404);
    const pick = <T>(list: readonly T[]) => list[Math.floor(next() * list.length)]!;
    const randomCase = (text: string) =>
      [...text].map((c) => (next() < 0.5 ? c.toUpperCase() : c.toLowerCase())).join('');
    const bases = [
      '/api/sessions/abc',
      '/api/sessions/',
      '/api/me/',
      '/api/login',
      '/sessions/x/revoke',
      '/static/app.css',
      '/healthz/',
      '/metrics',
      '/login/',
      '/',
      '/wp-admin',
      '/api/nope',
    ];
    const methods = ['GET', 'POST', 'DELETE', 'PUT', 'PATCH', 'OPTIONS', 'HEAD', 'PROPFIND', 'M-SEARCH'];

    await pool(10_000, 32, async (i) => {
      const suffix = next() < 0.3 ? `/${Math.floor(next() * 1e6)}` : '';
      const path = randomCase(pick(bases) + suffix) + (next() < 0.2 ? '//' : '');
      const res = await fetch(`${server.url}${path}?i=${i}`, {
        method: pick(methods),
        headers: { 'x-forwarded-proto': 'https' },
      }).catch(() => undefined);
      await res?.arrayBuffer().catch(() => undefined);
    });
    const metric = await t.metrics.registry.getSingleMetric('http_request_duration_seconds')!.get();
    const labels = new Set(metric.values.map((v) => v.labels.route as string));

    expect(labels.size).toBeGreaterThan(5);
    expect([...labels].filter((label) => !ROUTES.includes(label))).toEqual([]);
  }, 120_000);
});
