import { mkdirSync, readFileSync } from 'node:fs';
import { createServer, get as httpGet, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ensureLocalCertificates } from '../certs.ts';
import { freePorts } from '../lib/ports.ts';
import { suiteScratchDir } from '../lib/scratch-dir.ts';
import { ensureTools } from '../lib/tools.ts';
import { globalsFor } from './native-stack.ts';
import { renderNginx } from './nginx-config.ts';
import { Supervisor } from './supervisor.ts';

interface Answer {
  status: number;
  location?: string;
  body: string;
}

/**
 * Issue #10.8, through real nginx running the project's own configuration (rendered like the
 * native stack renders it) in front of a stub upstream: the :80 redirect goes to the configured
 * public origin whatever Host the client sends, and /metrics is closed at the edge unless a
 * token guards it.
 */
describe.each(['off', 'on'] as const)('the edge with METRICS_AT_EDGE=%s', (metricsAtEdge) => {
  let upstream: Server;
  let https: number;
  let http: number;
  let ca: string;
  // jest runs afterAll hooks in the order they are declared: nginx is stopped (its PID record
  // lives in the scratch directory) before the directory is removed.
  afterAll(async () => {
    await supervisor.stop('nginx', { signal: 'SIGQUIT', timeoutMs: 5000 });
    await new Promise((resolve) => upstream.close(resolve));
  });
  const dir = suiteScratchDir(`authstack-edge-${metricsAtEdge}-`);
  const supervisor = new Supervisor(dir);

  beforeAll(async () => {
    await ensureTools('nginx', 'openssl');
    const certs = await ensureLocalCertificates(join(dir, 'certs'), { useMkcert: 'never', quiet: true });
    ca = readFileSync(certs.caCrt, 'utf8');
    let service: number;
    [https, http, service] = (await freePorts(3)) as [number, number, number];
    upstream = createServer((req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(`upstream saw ${req.url}`));
    await new Promise<void>((resolve) => upstream.listen(service, '127.0.0.1', resolve));
    const out = join(dir, 'nginx');
    mkdirSync(join(dir, 'acme'), { recursive: true });
    renderNginx(out, {
      UPSTREAM_ADDR: `127.0.0.1:${service}`,
      UPSTREAM_MODE: 'static',
      UPSTREAM_RESOLVER: '127.0.0.1',
      NGINX_HTTP_LISTEN: `127.0.0.1:${http}`,
      NGINX_HTTPS_LISTEN: `127.0.0.1:${https}`,
      PUBLIC_ORIGIN: 'https://auth.example.test:8443',
      TLS_CERT: certs.leafCrt,
      TLS_KEY: certs.leafKey,
      TLS_OCSP: 'off',
      ACME_WEBROOT: join(dir, 'acme'),
      METRICS_AT_EDGE: metricsAtEdge,
    });
    await supervisor.start('nginx', 'nginx', ['-p', `${out}/`, '-c', join(out, 'nginx.conf'), '-g', await globalsFor(out)], {
      env: process.env,
      stdout: join(dir, 'access.log'),
      stderr: join(dir, 'error.log'),
    });
  });
  const plain = (path: string, host: string) =>
    new Promise<Answer>((resolve, reject) => {
      httpGet({ host: '127.0.0.1', port: http, path, headers: { host } }, (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, location: res.headers.location, body: '' });
      }).on('error', reject);
    });
  const secure = (path: string) =>
    new Promise<Answer>((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port: https, path, servername: 'localhost', headers: { host: 'localhost' }, ca, agent: false }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });

  it('when plain HTTP arrives with any Host header, then 301 to the same path on PUBLIC_ORIGIN, never to the client-supplied host', async () => {
    const forged = await plain('/dashboard?tab=1', 'evil.example');
    const honest = await plain('/login', 'auth.example.test');

    expect(forged).toMatchObject({ status: 301, location: 'https://auth.example.test:8443/dashboard?tab=1' });
    expect(honest).toMatchObject({ status: 301, location: 'https://auth.example.test:8443/login' });
  });

  it(`when /metrics is requested through the edge in any spelling, then ${metricsAtEdge === 'off' ? 'nginx answers 404 JSON itself' : 'it reaches the service (which demands the token)'}, and other paths still reach the service`, async () => {
    const answers = await Promise.all(['/metrics', '/METRICS/', '/Metrics?x=1', '/metrics//'].map(secure));
    const health = await secure('/healthz');

    for (const answer of answers) {
      if (metricsAtEdge === 'off') {
        expect(answer.status).toBe(404);
        expect(JSON.parse(answer.body)).toMatchObject({ error: 'not_found' });
      } else {
        expect(answer).toMatchObject({ status: 200, body: expect.stringMatching(/^upstream saw \/metrics/i) });
      }
    }
    expect(health).toEqual({ status: 200, body: 'upstream saw /healthz' });
  });
});
