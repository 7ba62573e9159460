import { createServer, get as httpGet, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { httpClient } from '../../../testkit/http.ts';
import { startEdge } from '../../../testkit/nginx.ts';

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
  let edge: Awaited<ReturnType<typeof startEdge>>;

  beforeAll(async () => {
    upstream = createServer((req, res) =>
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`upstream saw ${req.url}`),
    );
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const port = (upstream.address() as { port: number }).port;
    edge = await startEdge(port, { PUBLIC_ORIGIN: 'https://auth.example.test:8443', METRICS_AT_EDGE: metricsAtEdge });
  });
  afterAll(async () => {
    await edge.stop();
    await new Promise((resolve) => upstream.close(resolve));
  });

  const plain = (path: string, host: string) =>
    new Promise<Answer>((resolve, reject) => {
      httpGet({ host: '127.0.0.1', port: edge.httpPort, path, headers: { host } }, (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, location: res.headers.location, body: '' });
      }).on('error', reject);
    });
  const secure = async (path: string): Promise<Answer> => {
    const { status, body } = await httpClient({ origin: edge.origin, caFiles: [edge.caFile] }).send(path);
    return { status, body };
  };

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
