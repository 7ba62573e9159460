import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { servedCertificate } from '../../testkit/certs.ts';
import { startPebble } from '../../testkit/pebble.ts';
import { repoRoot } from '../../testkit/repo.ts';
import { DockerStack } from '../docker/docker-stack.ts';
import { generateEnvFile } from '../env-gen.ts';
import { CliError, say } from '../lib/log.ts';
import { run, waitFor } from '../../testkit/run.ts';
import { ACME_TEST_NAME, acmeTestSettings } from './test-acme-stack.ts';
import { runSmoke } from './test-stack.ts';

const log = (message: string) => say('ci-docker', message);

/**
 * The compose stack with TLS_MODE=acme against Pebble on this machine (issue #19), as a user sets
 * it up: PUBLIC_ORIGIN, TLS_MODE, ACME_DIRECTORY and ACME_CA_BUNDLE in the env file, then
 * `make up`. The renewer container reaches Pebble as host.docker.internal; Pebble validates
 * through the published port 80. Then smoke/acme.smoke.ts, as for the native stack.
 */
export async function composeAcmeCheck(ciEnv: NodeJS.ProcessEnv): Promise<void> {
  const dir = join(repoRoot, '.run/ci/acme');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const pebble = await startPebble({
    dir: join(dir, 'pebble'),
    listen: '0.0.0.0',
    apiNames: ['host.docker.internal', '127.0.0.1'],
    httpPort: 80,
    hosts: { [ACME_TEST_NAME]: '127.0.0.1' },
  });
  const envFile = join(dir, 'acme.env');
  try {
    generateEnvFile(envFile, acmeTestSettings(pebble));
    const env = { ...ciEnv, ENV_FILE: envFile };
    await run('make', ['-s', 'up'], { cwd: repoRoot, env, stdio: 'inherit' });
    // `make up` returns once nginx serves (the placeholder at first); the order takes a moment.
    const issuer = await waitFor(
      async () =>
        (
          await servedCertificate('127.0.0.1', 443, ACME_TEST_NAME).then(
            (c) => String(c.issuer?.CN ?? ''),
            () => '',
          )
        ).includes('Pebble')
          ? true
          : undefined,
      { timeoutMs: 90_000, intervalMs: 1000 },
    );
    if (!issuer)
      throw new CliError('the compose stack serves no certificate from Pebble after 90 s: make logs ARGS=acme');
    log('compose: nginx serves the certificate Pebble issued');
    const root = join(dir, 'pebble-root.pem');
    writeFileSync(root, await pebble.root());
    const code = await runSmoke(
      {
        SMOKE_CA_FILE: root,
        SMOKE_CONNECT_TO: '127.0.0.1',
        SMOKE_ACME_ORDERS_CMD: `grep -c 'Added order' '${pebble.logFile}' || true`,
        SMOKE_ACME_CA_DOWN_CMD: `kill ${pebble.pid()}`,
      },
      ['smoke/acme.smoke.ts'],
      'smoke-docker-acme',
    );
    if (code !== 0) throw new CliError(`the ACME smoke tests failed against the compose stack (exit ${code})`);
  } finally {
    await new DockerStack({ envFile, env: { ...ciEnv, ENV_FILE: envFile } }).down(['--volumes']);
    await pebble.stop();
  }
}
