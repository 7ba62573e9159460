import { describe, expect, it } from '@jest/globals';
import { request } from './support/http.ts';
import { secret } from './support/stack.ts';

describe('/metrics through the edge', () => {
  it('when /metrics is requested without a token, then 401', async () => {
    const response = await request('/metrics');

    expect(response.status).toBe(401);
  });

  it('when /metrics is requested with a wrong token, then 401', async () => {
    const response = await request('/metrics', {
      headers: { authorization: `Bearer not-the-${secret('METRICS_TOKEN')}` },
    });

    expect(response.status).toBe(401);
  });

  it('when /metrics is requested with the token, then 200 with auth_login_attempts_total', async () => {
    const response = await request('/metrics', { headers: { authorization: `Bearer ${secret('METRICS_TOKEN')}` } });

    expect(response.status).toBe(200);
    expect(response.body).toMatch(/^# TYPE auth_login_attempts_total counter$/m);
  });
});
