import { afterEach, describe, expect, it } from '@jest/globals';
import * as http2 from 'node:http2';
import { randomUsername } from './support/auth.ts';
import { request, sleep, trustedCas } from './support/http.ts';
import { origin } from './support/stack.ts';

// The edge allows 10 login POSTs/s per client IP with a burst of 20 (nginx.conf). A burst of 40
// at once must overflow it; afterwards the bucket needs ~2 s to drain for the other suites.
const BURST = 40;
const DRAIN_MS = 2500;

interface H2Response {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: string;
}

/**
 * BURST POSTs as streams of one HTTP/2 connection: they reach nginx within milliseconds even on
 * a slow machine, where 40 separate TLS handshakes could spread them out and let the bucket
 * drain. Sent cross-origin on purpose: the requests that pass the edge are refused by the
 * service's origin check (403) before the authenticator, so the burst never counts against the
 * per-IP failed-login budget that protects the real accounts.
 */
async function burst(path: string): Promise<H2Response[]> {
  const session = http2.connect(origin, { ca: trustedCas });
  try {
    return await Promise.all(
      Array.from(
        { length: BURST },
        () =>
          new Promise<H2Response>((resolve, reject) => {
            const stream = session.request({
              ':method': 'POST',
              ':path': path,
              'content-type': 'application/json',
              origin: 'https://smoke-burst.invalid',
            });
            let headers: http2.IncomingHttpHeaders = {};
            let body = '';
            stream.setEncoding('utf8');
            stream.on('response', (h) => (headers = h));
            stream.on('data', (chunk: string) => (body += chunk));
            stream.on('end', () => resolve({ status: Number(headers[':status']), headers, body }));
            stream.on('error', reject);
            stream.end(JSON.stringify({ username: randomUsername(), password: 'burst' }));
          }),
      ),
    );
  } finally {
    session.close();
  }
}

describe('edge rate limit on login', () => {
  afterEach(() => sleep(DRAIN_MS));

  // /API/Login/ reaches the same route in Express (case-insensitive, trailing slash), so the
  // edge must limit it too.
  it.each(['/api/login', '/login', '/API/Login/'])(
    'when %s gets a burst of 40 POSTs at once, then the edge answers the excess with 429 rate_limited JSON',
    async (path) => {
      const responses = await burst(path);

      const limited = responses.filter((r) => r.status === 429);
      const passed = responses.filter((r) => r.status !== 429);
      expect(limited.length).toBeGreaterThan(0);
      for (const response of limited) {
        expect(response.headers['content-type']).toMatch(/^application\/json/);
        expect(JSON.parse(response.body)).toMatchObject({ error: 'rate_limited' });
        expect(response.headers['retry-after']).toBe('1');
        // Node joins repeated headers with ", ": exactly the one value means exactly one header.
        expect(response.headers['strict-transport-security']).toBe('max-age=63072000; includeSubDomains');
      }
      // Whatever got through met the service's origin check, never the password check.
      expect(new Set(passed.map((r) => r.status))).toEqual(new Set([403]));
    },
  );

  it('when the login form is fetched 40 times at once, then none is limited (only POSTs count)', async () => {
    const responses = await Promise.all(Array.from({ length: BURST }, () => request('/login')));

    expect(responses.map((r) => r.status)).toEqual(Array(BURST).fill(200));
  });
});
