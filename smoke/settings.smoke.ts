import { describe, expect, it } from '@jest/globals';
import { parseDurationMs } from '../service/src/config/setting-types.ts';
import { loginAsAdmin, randomUsername } from './support/auth.ts';
import { postJson, request, sleep } from './support/http.ts';
import { itWhen } from './support/conditional.ts';
import { envValues, envFile } from './support/stack.ts';

/**
 * Settings in the stack's env file reach the service, whichever stack runs it: the CI stacks
 * (native and compose) set non-defaults (ops/ci/test-stack.ts) and these tests see their effect
 * through the edge. Against a stack with the defaults, each test checks the default instead.
 */
const signupEnabled = ['true', '1', 'yes'].includes(envValues.SIGNUP_ENABLED ?? '');
const idleMs = envValues.SESSION_IDLE_TIMEOUT ? parseDurationMs(envValues.SESSION_IDLE_TIMEOUT) : undefined;

describe(`settings from ${envFile} reach the service`, () => {
  it(`SIGNUP_ENABLED=${envValues.SIGNUP_ENABLED ?? '(default false)'}: registration through the edge answers ${signupEnabled ? '201 with a session' : '404'}`, async () => {
    const response = await postJson('/api/register', {
      username: randomUsername(),
      password: `smoke passphrase ${randomUsername()}`,
    });

    if (signupEnabled) {
      expect(response.status).toBe(201);
      const cookie = response.one('set-cookie').split(';')[0]!;
      expect((await request('/api/me', { headers: { cookie } })).status).toBe(200);
    } else {
      expect(response.status).toBe(404);
      expect(response.json()).toMatchObject({ error: 'not_found' });
    }
  });

  itWhen(idleMs !== undefined && idleMs <= 60_000)(
    `SESSION_IDLE_TIMEOUT=${envValues.SESSION_IDLE_TIMEOUT}: a session unused that long ends (401), one used within it does not`,
    async () => {
      const { cookie } = await loginAsAdmin();

      const meanwhile = await request('/api/me', { headers: { cookie } });
      await sleep(idleMs! + 1500);
      const after = await request('/api/me', { headers: { cookie } });

      expect(meanwhile.status).toBe(200);
      expect(after.status).toBe(401);
      expect(after.json()).toMatchObject({ error: 'unauthenticated' });
    },
    120_000,
  );
});
