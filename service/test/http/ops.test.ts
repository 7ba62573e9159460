import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { createMetrics } from '../../src/infra/metrics.ts';
import { buildTestApp, createUser, login, viaEdge, type TestApp } from '../helpers/test-app.ts';

describe('operational endpoints', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ METRICS_TOKEN: 'metrics-token-for-tests' });
  });
  afterAll(() => t.close());

  it('when /healthz is asked, then 200 {status:"ok"}', async () => {
    const res = await request(t.app).get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('when Redis answers PING, then /readyz is 200', async () => {
    expect((await request(t.app).get('/readyz')).status).toBe(200);
  });

  it('when shutting down, then /readyz is 503 while /healthz stays 200', async () => {
    t.lifecycle.shuttingDown = true;
    try {
      expect((await request(t.app).get('/readyz')).status).toBe(503);
      expect((await request(t.app).get('/healthz')).status).toBe(200);
    } finally {
      t.lifecycle.shuttingDown = false;
    }
  });

  it('when /metrics is asked without the bearer token or with a wrong one, then 401', async () => {
    expect((await request(t.app).get('/metrics')).status).toBe(401);
    expect((await request(t.app).get('/metrics').set('Authorization', 'Bearer nope')).status).toBe(401);
    expect(
      (await request(t.app).get('/metrics').set('Authorization', 'Basic bWV0cmljcy10b2tlbi1mb3ItdGVzdHM=')).status,
    ).toBe(401);
  });

  it('when /metrics is asked with the token, then Prometheus text with every service metric', async () => {
    const { username, password } = await createUser(t);
    await login(t, username, password);
    await viaEdge(t.app).get('/api/me');
    await viaEdge(t.app).get('/api/sessions');

    const res = await request(t.app).get('/metrics').set('Authorization', 'Bearer metrics-token-for-tests');

    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    for (const name of [
      'http_request_duration_seconds',
      'auth_login_attempts_total',
      'auth_sessions_created_total',
      'auth_sessions_revoked_total',
      'password_hash_duration_seconds',
      'session_secret_fallback_total',
    ]) {
      expect(res.text).toContain(`# TYPE ${name} `);
    }
    expect(res.text).toMatch(
      /http_request_duration_seconds_count\{method="GET",route="\/api\/me",status_code="401"\} \d+/,
    );
    expect(res.text).toMatch(
      /http_request_duration_seconds_count\{method="GET",route="\/api\/sessions",status_code="401"\} \d+/,
    );
  });

  it('when many distinct unknown paths and odd methods are requested, then they share one route label and cardinality stays bounded', async () => {
    for (let i = 0; i < 25; i += 1) await request(t.app).get(`/scanner/probe-${i}`);
    await request(t.app).get('/api/sessions/some-handle-1');
    await request(t.app).get('/api/sessions/some-handle-2');

    const res = await request(t.app).get('/metrics').set('Authorization', 'Bearer metrics-token-for-tests');
    const routes = new Set(
      [...res.text.matchAll(/http_request_duration_seconds_count\{[^}]*route="([^"]*)"/g)].map((m) => m[1]),
    );

    expect(routes.has('<unmatched>')).toBe(true);
    expect([...routes].some((r) => r!.includes('probe'))).toBe(false);
    expect([...routes].some((r) => r!.includes('some-handle'))).toBe(false);
  });

  it('when the default metrics are enabled (as in production), then process and node metrics are exported', async () => {
    const text = await createMetrics().registry.metrics();
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toContain('nodejs_eventloop_lag_seconds');
  });
});

describe('/metrics without METRICS_TOKEN', () => {
  it('when no token is configured, then /metrics is served without authentication', async () => {
    const t = await buildTestApp({ METRICS_TOKEN: undefined });
    try {
      expect((await request(t.app).get('/metrics')).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});
