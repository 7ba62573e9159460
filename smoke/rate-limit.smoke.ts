import { randomUsername } from './support/auth';
import { postJson, request, sleep, type Response } from './support/http';

// The edge allows 10 login POSTs/s per client IP with a burst of 20 (nginx.conf). A burst of 40
// at once must overflow it; afterwards the bucket needs ~2 s to drain for the other suites.
const BURST = 40;
const DRAIN_MS = 2500;

/**
 * The burst is sent cross-origin on purpose: requests that pass the edge are refused by the
 * service's origin check (403) before they reach the authenticator, so the burst never counts
 * against the per-IP failed-login budget that protects the real accounts.
 */
const burst = (path: string): Promise<Response[]> =>
  Promise.all(
    Array.from({ length: BURST }, () =>
      postJson(path, { username: randomUsername(), password: 'burst' }, { headers: { origin: 'https://smoke-burst.invalid' } }),
    ),
  );

describe('edge rate limit on login', () => {
  afterEach(() => sleep(DRAIN_MS));

  it.each(['/api/login', '/login'])('when %s gets a burst of 40 POSTs at once, then the edge answers the excess with 429 rate_limited JSON', async (path) => {
    const responses = await burst(path);

    const limited = responses.filter((r) => r.status === 429);
    const passed = responses.filter((r) => r.status !== 429);
    expect(limited.length).toBeGreaterThan(0);
    for (const response of limited) {
      expect(response.one('content-type')).toMatch(/^application\/json/);
      expect(response.json()).toMatchObject({ error: 'rate_limited' });
      expect(response.one('retry-after')).toBe('1');
      expect(response.all('strict-transport-security')).toHaveLength(1);
    }
    // Whatever got through met the service's origin check, never the password check.
    expect(new Set(passed.map((r) => r.status))).toEqual(new Set([403]));
  });

  it('when the login form is fetched 40 times at once, then none is limited (only POSTs count)', async () => {
    const responses = await Promise.all(Array.from({ length: BURST }, () => request('/login')));

    expect(responses.map((r) => r.status)).toEqual(Array(BURST).fill(200));
  });
});
