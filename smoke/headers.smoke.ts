import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { request, sleep } from './support/http.ts';
import { serviceLogCommand } from './support/stack.ts';

const HSTS = 'max-age=63072000; includeSubDomains';

/** The service's log as JSON objects, from SMOKE_SERVICE_LOG_CMD. */
function serviceLogEntries(): Promise<Array<{ req?: { id?: string } }>> {
  const command = serviceLogCommand;
  if (!command) {
    throw new Error('SMOKE_SERVICE_LOG_CMD is not set and no stack file provides it (make up writes .run/smoke.env)');
  }
  return new Promise((resolve, reject) => {
    execFile('/bin/sh', ['-c', command], { maxBuffer: 256 * 1024 * 1024 }, (error, stdout) => {
      if (error) return reject(new Error(`${command} failed`, { cause: error }));
      const entries = [];
      for (const line of stdout.split('\n')) {
        // docker-compose prefixes each line with "service_1  | "; take the JSON object.
        const start = line.indexOf('{');
        if (start < 0) continue;
        try {
          entries.push(JSON.parse(line.slice(start)));
        } catch {
          // Not a JSON log line (e.g. a startup banner); ignore it.
        }
      }
      resolve(entries);
    });
  });
}

describe('security headers at the edge', () => {
  it('when a page from the service is fetched, then HSTS is sent exactly once, for two years and subdomains', async () => {
    const response = await request('/login');

    expect(response.status).toBe(200);
    expect(response.all('strict-transport-security')).toEqual([HSTS]);
  });

  it('when a page from the service is fetched, then CSP, nosniff and frame protection are present once, and Server has no version', async () => {
    const response = await request('/login');

    const csp = response.one('content-security-policy');
    expect(response.one('x-content-type-options')).toBe('nosniff');
    expect(csp.includes("frame-ancestors 'none'") || response.all('x-frame-options').length === 1).toBe(true);
    expect(csp).not.toMatch(/unsafe-inline/);
    for (const server of response.all('server')) expect(server).not.toMatch(/\d/);
    expect(response.all('x-powered-by')).toEqual([]);
  });

  it('when nginx answers itself (413 for a large body), then the body is JSON and the security headers are still there', async () => {
    const response = await request('/api/logout', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ padding: 'x'.repeat(64 * 1024) }),
    });

    expect(response.status).toBe(413);
    expect(response.one('content-type')).toMatch(/^application\/json/);
    expect(response.json()).toMatchObject({ error: 'payload_too_large' });
    expect(response.all('strict-transport-security')).toEqual([HSTS]);
    expect(response.one('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(response.one('x-content-type-options')).toBe('nosniff');
    expect(response.one('x-request-id')).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('request ids', () => {
  it('when a request passes the edge, then one X-Request-Id comes back and the service logged the same id', async () => {
    const response = await request('/api/me');
    const id = response.one('x-request-id');

    // The service writes its line when the response finishes; allow the log a moment.
    let logged = false;
    for (let attempt = 0; attempt < 25 && !logged; attempt++) {
      logged = (await serviceLogEntries()).some((entry) => entry.req?.id === id);
      if (!logged) await sleep(200);
    }

    expect(response.status).toBe(401);
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(logged).toBe(true);
  });

  it('when the client sends its own X-Request-Id, then the edge replaces it with its own', async () => {
    const response = await request('/api/me', { headers: { 'x-request-id': 'client-chosen-id' } });

    expect(response.all('x-request-id')).toHaveLength(1);
    expect(response.one('x-request-id')).toMatch(/^[0-9a-f]{32}$/);
  });
});
