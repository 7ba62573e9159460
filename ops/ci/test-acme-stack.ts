import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startPebble } from '../../testkit/pebble.ts';
import { freePorts } from '../../testkit/ports.ts';
import { repoRoot } from '../../testkit/repo.ts';
import { generateEnvFile } from '../env-gen.ts';
import { buildIfStale } from '../lib/build.ts';
import { CliError, say } from '../lib/log.ts';
import { ensureTools } from '../lib/tools.ts';
import { NativeStack } from '../native/native-stack.ts';
import { acmePaths } from '../native/stack-plan.ts';
import { readCertificate } from '../../service/src/acme/certificate-files.ts';
import { TEST_STACK_SETTINGS, runSmoke } from './test-stack.ts';

/** The test name Pebble's DNS resolves to the edge on loopback. */
export const ACME_TEST_NAME = 'auth.example.test';

/**
 * The native stack with TLS_MODE=acme against Let's Encrypt's test CA (Pebble, its DNS answering
 * auth.example.test with 127.0.0.1), set up as the README tells a user: PUBLIC_ORIGIN, TLS_MODE,
 * ACME_DIRECTORY and ACME_CA_BUNDLE in the env file, then `make up`. smoke/acme.smoke.ts then
 * logs in with curl and Chromium trusting only Pebble's root, renews under load, restarts the
 * stack ten times and takes the CA down.
 */
export async function testAcmeStack(smokeArgs: string[]): Promise<number> {
  const stackTools = ['redis-server', 'redis-cli', 'nginx', 'chromium', 'certbot', 'openssl', 'curl'];
  await ensureTools(...stackTools, 'mkcert', 'pebble', 'pebble-challtestsrv', 'certutil');
  const runDir = join(repoRoot, '.run', `test-acme-${process.pid}`);
  mkdirSync(runDir, { recursive: true });
  // nginx's unprivileged workers serve the challenge files from inside the run directory.
  chmodSync(runDir, 0o755);
  const envFile = join(runDir, 'test.env');
  const [HTTPS_PORT, HTTP_PORT, SERVICE_PORT, REDIS_PORT, ACME_METRICS_PORT] = (await freePorts(5)).map(String);
  const env: NodeJS.ProcessEnv = { ...process.env, HTTPS_PORT, HTTP_PORT, SERVICE_PORT, REDIS_PORT, ACME_METRICS_PORT };
  for (const key of ['TLS_CERT', 'TLS_KEY', 'TLS_OCSP', 'TLS_MODE', 'BASE_URL']) delete env[key];
  const pebble = await startPebble({
    dir: join(runDir, 'pebble'),
    listen: '127.0.0.1',
    apiNames: ['127.0.0.1'],
    httpPort: Number(HTTP_PORT),
    hosts: { [ACME_TEST_NAME]: '127.0.0.1' },
  });
  const stack = new NativeStack({ runDir, envFile, certsDir: join(runDir, 'certs'), env });
  let code = 1;
  try {
    await buildIfStale();
    generateEnvFile(envFile, {
      ...TEST_STACK_SETTINGS,
      PUBLIC_ORIGIN: `https://${ACME_TEST_NAME}`,
      TLS_MODE: 'acme',
      ACME_EMAIL: `ops@${ACME_TEST_NAME}`,
      ACME_DIRECTORY: pebble.directory,
      ACME_CA_BUNDLE: pebble.apiCa,
    });
    await stack.up();
    // `make up` goes on serving the placeholder while the renewer retries; the tests need the CA's.
    if (readCertificate(acmePaths(runDir).cert)?.placeholder !== false)
      throw new CliError(`no certificate from Pebble yet: see ${join(runDir, 'acme.log')}`);
    const pebbleRoot = join(runDir, 'pebble-root.pem');
    writeFileSync(pebbleRoot, await pebble.root());
    const smokeEnv = {
      SMOKE_STACK_FILE: join(runDir, 'smoke.env'),
      SMOKE_CA_FILE: pebbleRoot,
      SMOKE_CONNECT_TO: '127.0.0.1',
      SMOKE_ACME_ORDERS_CMD: `grep -c 'Added order' '${pebble.logFile}' || true`,
      SMOKE_ACME_CA_DOWN_CMD: `kill ${pebble.pid()}`,
    };
    const files = smokeArgs.length > 0 ? smokeArgs : ['smoke/acme.smoke.ts'];
    code = await runSmoke(smokeEnv, files, 'smoke-acme');
    return code;
  } finally {
    await stack.down().catch((error: unknown) => say('test-acme', `teardown: ${String(error)}`));
    await pebble.stop();
    if (code === 0 && process.env.KEEP_RUN_DIR !== '1') rmSync(runDir, { recursive: true, force: true });
    else say('test-acme', `run directory kept for inspection: ${runDir}`);
  }
}
