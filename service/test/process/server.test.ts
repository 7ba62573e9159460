import { beforeAll, describe, expect, it } from '@jest/globals';
import { freePorts } from '../../../testkit/ports.ts';
import { waitFor } from '../../../testkit/run.ts';
import { inFlightLogin } from '../helpers/in-flight-login.ts';
import { redisUrl, testEnv } from '../helpers/test-app.ts';
import { requireBuild, runNode, startNode } from './helpers.ts';

beforeAll(requireBuild);

async function waitForReady(port: number): Promise<void> {
  const ready = async () =>
    (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200 || undefined;
  if (!(await waitFor(ready, { timeoutMs: 15_000, intervalMs: 100 }))) throw new Error('service did not become ready');
}

describe('the service process (npm start = node dist/server.js)', () => {
  it('when the configuration is invalid, then it exits 78 at once with a message naming the key', async () => {
    const result = await runNode('server.js', [], { SESSION_SECRETS: 'too-short', TRUST_PROXY: 'true' });

    expect(result.code).toBe(78);
    expect(result.stderr).toMatch(/SESSION_SECRETS: secret #1 is 9 characters/);
    expect(result.stderr).toMatch(/TRUST_PROXY: /);
    expect(result.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
  });

  it('when started, then it creates the admin, serves logins as JSON logs on stdout, and on SIGTERM finishes the in-flight request and exits 0', async () => {
    const port = (await freePorts(1))[0]!;
    const env = testEnv({
      PORT: String(port),
      HOST: '127.0.0.1',
      ADMIN_USERNAME: 'process-admin',
      ADMIN_PASSWORD: 'process admin passphrase',
      REDIS_URL: redisUrl(),
    });
    const service = startNode('server.js', env);
    try {
      await waitForReady(port);

      // A login whose body is still being sent when SIGTERM arrives.
      const body = JSON.stringify({ username: 'process-admin', password: 'process admin passphrase' });
      const flight = inFlightLogin(port, body);
      await new Promise((r) => setTimeout(r, 100));
      service.child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 200));
      flight.finish();

      expect((await flight.response).status).toBe(200);
      expect(await service.exited).toBe(0);
      const lines = service
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const events = lines.map((l) => l.event).filter(Boolean);
      expect(events).toEqual(
        expect.arrayContaining([
          'admin.bootstrap',
          'server.listening',
          'login.success',
          'shutdown.start',
          'shutdown.done',
        ]),
      );
      expect(lines.find((l) => l.event === 'shutdown.done')?.outcome).toBe('clean');
    } finally {
      service.child.kill('SIGKILL');
    }
  });
});
