import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { sign, unsign } from 'cookie-signature';
import { sessionHandle } from '../../src/sessions/session-manager.ts';
import { hostilePlan, type EndpointSpec } from '../helpers/hostile/generators.ts';
import { sendRaw, type RawResponse } from '../helpers/hostile/raw-http.ts';
import { buildRequest, type BuiltRequest, type RunFacts } from '../helpers/hostile/request-builder.ts';
import {
  GOOD_PASSWORD,
  SECRET_A,
  buildTestApp,
  createUser,
  login,
  uniqueUsername,
  viaEdge,
  type TestApp,
  sessionKey,
} from '../helpers/test-app.ts';

/**
 * The hostile-input suite: thousands of generated malformed, oversized and forged requests
 * against every endpoint, over a real socket, with a fixed seed so a failure reproduces.
 * Pass condition: no 5xx, no crash, every /api 4xx a JSON {error, message}, no forged
 * cookie ever authenticates, and the heap settles back afterwards.
 *
 * Reproduce or explore: HOSTILE_SEED=<n> HOSTILE_RUNS=<per endpoint> npm run test:integration -- service/test/http/hostile-input.test.ts
 */

const SEED = Number(process.env.HOSTILE_SEED ?? 20_260_101);
const RUNS_PER_ENDPOINT = Number(process.env.HOSTILE_RUNS ?? 125);
const MIN_TOTAL_REQUESTS = 2_000;
const HEAP_GROWTH_LIMIT_BYTES = 50 * 1024 * 1024;

const ENDPOINTS: EndpointSpec[] = [
  { name: 'POST /api/login', method: 'POST', path: '/api/login', body: 'credentials' },
  { name: 'POST /api/logout', method: 'POST', path: '/api/logout', body: 'none' },
  { name: 'GET /api/me', method: 'GET', path: '/api/me', body: 'none' },
  { name: 'GET /api/sessions', method: 'GET', path: '/api/sessions', body: 'none' },
  { name: 'DELETE /api/sessions', method: 'DELETE', path: '/api/sessions', body: 'none' },
  { name: 'DELETE /api/sessions/:id', method: 'DELETE', path: '/api/sessions/:id', body: 'none' },
  { name: 'POST /api/password', method: 'POST', path: '/api/password', body: 'password-change' },
  { name: 'POST /api/register', method: 'POST', path: '/api/register', body: 'credentials' },
  { name: 'GET /login', method: 'GET', path: '/login', body: 'none' },
  { name: 'POST /login', method: 'POST', path: '/login', body: 'form' },
  { name: 'GET /', method: 'GET', path: '/', body: 'none' },
  { name: 'POST /logout', method: 'POST', path: '/logout', body: 'none' },
  { name: 'POST /sessions/:id/revoke', method: 'POST', path: '/sessions/:id/revoke', body: 'none' },
  { name: 'POST /sessions/revoke-others', method: 'POST', path: '/sessions/revoke-others', body: 'none' },
  { name: 'GET /healthz', method: 'GET', path: '/healthz', body: 'none' },
  { name: 'GET /readyz', method: 'GET', path: '/readyz', body: 'none' },
  { name: 'GET /metrics', method: 'GET', path: '/metrics', body: 'none' },
  { name: 'GET /static/app.css', method: 'GET', path: '/static/app.css', body: 'none' },
  { name: 'unknown paths', method: 'GET', path: '/', body: 'none', unknown: true },
];

/** A gc() handle without --expose-gc on the test runner command line. */
function gcFunction(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

async function settledHeapUsed(gc: () => void): Promise<number> {
  for (let i = 0; i < 4; i += 1) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().heapUsed;
}

/** The session id inside a cookie value (URL-encoded `s:<id>.<sig>`), when it verifies. */
function sessionIdOf(cookieValue: string): string | undefined {
  const raw = decodeURIComponent(cookieValue);
  if (!raw.startsWith('s:')) return undefined;
  const id = unsign(raw.slice(2), SECRET_A);
  return id === false ? undefined : id;
}

/**
 * A signed-in user per endpoint. Hostile requests log it out, revoke it, change its password
 * or log in again over it; before each request the supply checks the session still exists
 * in Redis and signs in afresh when it does not.
 */
class SessionSupply {
  private username = uniqueUsername('hostile');
  private password = GOOD_PASSWORD;
  private cookieValue = '';
  logins = 0;

  private readonly t: TestApp;

  constructor(t: TestApp) {
    this.t = t;
  }

  static async create(t: TestApp): Promise<SessionSupply> {
    const supply = new SessionSupply(t);
    await createUser(t, supply.username, supply.password);
    return supply;
  }

  get credentials() {
    return { username: this.username, password: this.password };
  }

  /** A cookie value for a session that exists right now. */
  async live(): Promise<string> {
    const id = this.cookieValue ? sessionIdOf(this.cookieValue) : undefined;
    if (id !== undefined && (await this.t.redis.exists(sessionKey(this.t, id))) === 1) return this.cookieValue;
    try {
      this.cookieValue = cookieValueOf(await login(this.t, this.username, this.password));
    } catch {
      // The password changed to something we cannot reconstruct (e.g. a body the server
      // decoded in another charset): carry on with a fresh user.
      this.username = uniqueUsername('hostile');
      this.password = GOOD_PASSWORD;
      await createUser(this.t, this.username, this.password);
      this.cookieValue = cookieValueOf(await login(this.t, this.username, this.password));
    }
    this.logins += 1;
    return this.cookieValue;
  }

  /** After a 204 from POST /api/password: the new password is whatever the body said. */
  passwordChanged(bodyText: string) {
    try {
      const body = JSON.parse(bodyText) as { newPassword?: unknown };
      if (typeof body.newPassword === 'string') this.password = body.newPassword;
    } catch {
      /* the next live() falls back to a fresh user */
    }
  }
}

function cookieValueOf(cookie: string): string {
  return cookie.slice(cookie.indexOf('=') + 1);
}

interface Tally {
  requests: number;
  byClass: Record<string, number>;
}

function describeFailure(
  endpoint: EndpointSpec,
  built: BuiltRequest,
  response: RawResponse | undefined,
  problem: string,
): string {
  const requestHead = built.bytes.subarray(0, 600).toString('latin1');
  const responseText = response
    ? `${response.status} ${JSON.stringify(response.headers)}\n${response.body.subarray(0, 300).toString('utf8')}`
    : '(none)';
  return `${endpoint.name}: ${problem}\n--- request (first 600 bytes) ---\n${requestHead}\n--- response ---\n${responseText}`;
}

/** The invariants every single hostile request must keep. */
function checkResponse(endpoint: EndpointSpec, built: BuiltRequest, response: RawResponse): void {
  const fail = (problem: string) => {
    throw new Error(describeFailure(endpoint, built, response, problem));
  };
  if (response.status >= 500) fail(`answered ${response.status}`);

  // Answers from the app carry X-Request-Id; a bare 400/431 without it is Node's own parser.
  const fromApp = response.headers['x-request-id'] !== undefined;
  const isApi = /^\/api(\/|\?|$)/i.test(built.target);
  if (fromApp && isApi && response.status >= 400 && !built.head) {
    let body: unknown;
    try {
      body = JSON.parse(response.body.toString('utf8'));
    } catch {
      fail('an /api 4xx without a JSON body');
    }
    const { error, message } = (body ?? {}) as { error?: unknown; message?: unknown };
    if (typeof error !== 'string' || typeof message !== 'string')
      fail('an /api 4xx whose JSON is not {error, message}');
    if (!/application\/json/.test(response.headers['content-type'] ?? ''))
      fail('an /api 4xx not labelled application/json');
  }

  // Only the live session may read /api/me or the session list: forged, truncated,
  // re-signed and logged-out cookies never authenticate.
  const readsAccount = built.method === 'GET' && /^\/api\/(me|sessions)$/.test(built.target);
  if (readsAccount && response.status === 200 && !built.presentsLiveSession)
    fail('a request without the live session cookie was authenticated');
}

describe('hostile input', () => {
  let t: TestApp;
  let server: Server;
  let port: number;
  let gc: () => void;
  let heapBefore = 0;
  const loggedOutCookies: string[] = [];
  let removedUserCookie = '';
  const tallies = new Map<string, Tally>();

  beforeAll(async () => {
    t = await buildTestApp({
      SIGNUP_ENABLED: 'true',
      SIGNUP_MAX_PER_IP_PER_HOUR: '1000000',
      LOGIN_MAX_CONSECUTIVE_FAILURES: '10000',
      LOGIN_MAX_FAILURES_PER_IP_PER_HOUR: '1000000',
      LOGIN_MAX_FAILURES_PER_ACCOUNT_PER_HOUR: '1000000',
      // Every 5xx is logged at error level; nothing below that is kept in memory.
      LOG_LEVEL: 'error',
    });
    server = createServer(t.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;

    // Correctly signed cookies for sessions that no longer exist: logged out, and of a deleted user.
    const { username } = await createUser(t);
    for (let i = 0; i < 3; i += 1) {
      const cookie = await login(t, username, GOOD_PASSWORD);
      await viaEdge(t.app).post('/api/logout').set('Cookie', cookie).expect(204);
      loggedOutCookies.push(cookieValueOf(cookie));
    }
    const doomed = await createUser(t);
    removedUserCookie = cookieValueOf(await login(t, doomed.username, GOOD_PASSWORD));
    await t.domain.accounts.remove(doomed.user);

    gc = gcFunction();
    heapBefore = await settledHeapUsed(gc);
    console.log(
      `hostile-input: seed ${SEED} (endpoint i uses seed + i), ${RUNS_PER_ENDPOINT} runs per endpoint; HOSTILE_SEED / HOSTILE_RUNS change them`,
    );
  });

  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await t?.close();
  });

  describe('when 2,000+ hostile requests hit every endpoint', () => {
    it.each(ENDPOINTS.map((e, index) => [e.name, e, SEED + index] as const))(
      '%s: then no 5xx, /api 4xx answers are JSON {error, message}, forged cookies never authenticate',
      async (_name, endpoint, seed) => {
        // Arrange
        const supply = await SessionSupply.create(t);
        const tally: Tally = { requests: 0, byClass: {} };
        tallies.set(endpoint.name, tally);

        // Act + assert, per generated request
        await fc.assert(
          fc.asyncProperty(hostilePlan(endpoint), async (plan) => {
            const liveCookie = await supply.live();
            const facts: RunFacts = {
              cookieName: t.config.session.cookieName,
              ...supply.credentials,
              liveCookie,
              loggedOutCookies,
              removedUserCookie,
              ownHandle: sessionHandle(t.domain.keys.sessionMember(sessionIdOf(liveCookie) ?? '')),
              sign,
              secret: SECRET_A,
            };
            const built = buildRequest(endpoint, plan, facts);
            tally.requests += 1;
            let response: RawResponse;
            try {
              response = await sendRaw(port, built.bytes, { head: built.head, halfClose: built.halfClose });
            } catch (error) {
              throw new Error(describeFailure(endpoint, built, undefined, `no answer: ${(error as Error).message}`), {
                cause: error,
              });
            }
            const cls =
              response.headers['x-request-id'] === undefined
                ? `node-${response.status}`
                : `${Math.floor(response.status / 100)}xx`;
            tally.byClass[cls] = (tally.byClass[cls] ?? 0) + 1;
            checkResponse(endpoint, built, response);
            if (endpoint.name === 'POST /api/password' && response.status === 204)
              supply.passwordChanged(built.bodyText);
          }),
          { seed, numRuns: RUNS_PER_ENDPOINT, endOnFailure: true },
        );
      },
    );

    it('then the process still serves, logged no request errors, and the heap settles back', async () => {
      // Arrange
      const total = [...tallies.values()].reduce((sum, tally) => sum + tally.requests, 0);
      const summary = [...tallies.entries()].map(
        ([name, tally]) =>
          `  ${name.padEnd(30)} ${String(tally.requests).padStart(4)}  ${JSON.stringify(tally.byClass)}`,
      );

      // Act
      const health = await viaEdge(t.app).get('/healthz');
      const heapAfter = await settledHeapUsed(gc);

      // Assert
      console.log(
        [
          `hostile-input: seed ${SEED}, ${total} requests; heap ${(heapBefore / 2 ** 20).toFixed(1)} MB -> ${(heapAfter / 2 ** 20).toFixed(1)} MB after GC`,
          ...summary,
        ].join('\n'),
      );
      expect(total).toBeGreaterThanOrEqual(MIN_TOTAL_REQUESTS);
      expect(health.status).toBe(200);
      expect(t.logs.events('request.error')).toEqual([]);
      expect(heapAfter - heapBefore).toBeLessThan(HEAP_GROWTH_LIMIT_BYTES);
    });
  });
});
