import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startPebble, type Pebble } from '../../testkit/pebble.ts';
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
import { checkAndReport, nativeStackTarget } from '../monitoring/promql-check.ts';
import { ACME_PANELS_WITH_DATA } from '../monitoring/promql.ts';

/** The test name Pebble's DNS resolves to the edge on loopback. */
export const ACME_TEST_NAME = 'auth.example.test';

/** What a user writes into .env for TLS_MODE=acme, here against Pebble (both stacks' ACME tests). */
export const acmeTestSettings = (pebble: Pick<Pebble, 'directory' | 'apiCa'>) => ({
  ...TEST_STACK_SETTINGS,
  PUBLIC_ORIGIN: `https://${ACME_TEST_NAME}`,
  TLS_MODE: 'acme',
  ACME_EMAIL: `ops@${ACME_TEST_NAME}`,
  ACME_DIRECTORY: pebble.directory,
  ACME_CA_BUNDLE: pebble.apiCa,
});

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
  const ports = (await freePorts(5)).map(String) as [string, string, string, string, string];
  const [HTTPS_PORT, HTTP_PORT, SERVICE_PORT, REDIS_PORT, ACME_METRICS_PORT] = ports;
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
    generateEnvFile(envFile, acmeTestSettings(pebble));
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
    // The certificate panels and alerts against live series: the renewer's metrics, and the
    // blackbox exporter's TLS probe of the edge (what clients are served), beside the service.
    if (
      code === 0 &&
      !(await checkCertificateQueries(runDir, pebbleRoot, { HTTPS_PORT, SERVICE_PORT, ACME_METRICS_PORT }))
    )
      code = 1;
    return code;
  } finally {
    await stack.down().catch((error: unknown) => say('test-acme', `teardown: ${String(error)}`));
    await pebble.stop();
    if (code === 0 && process.env.KEEP_RUN_DIR !== '1') rmSync(runDir, { recursive: true, force: true });
    else say('test-acme', `run directory kept for inspection: ${runDir}`);
  }
}

/**
 * promql-check with the jobs the certificate rules and panels select: acme (the renewer) and
 * tls-edge (Debian's prometheus-blackbox-exporter, a TLS probe of the edge trusting the CA's root).
 */
async function checkCertificateQueries(
  runDir: string,
  caRoot: string,
  ports: { HTTPS_PORT: string; SERVICE_PORT: string; ACME_METRICS_PORT: string },
): Promise<boolean> {
  await ensureTools('prometheus-blackbox-exporter');
  const workDir = join(runDir, 'promql-check');
  mkdirSync(workDir, { recursive: true });
  const config = join(workDir, 'blackbox.yml');
  const tls = { server_name: ACME_TEST_NAME, ca_file: caRoot };
  // JSON is YAML.
  writeFileSync(
    config,
    JSON.stringify({ modules: { tls_edge: { prober: 'tcp', timeout: '5s', tcp: { tls: true, tls_config: tls } } } }),
  );
  const [blackboxPort] = (await freePorts(1)) as [number];
  const log = openSync(join(workDir, 'blackbox.log'), 'a');
  const blackbox = spawn(
    'prometheus-blackbox-exporter',
    [`--config.file=${config}`, `--web.listen-address=127.0.0.1:${blackboxPort}`],
    { stdio: ['ignore', log, log] },
  );
  try {
    const probe = `http://127.0.0.1:${blackboxPort}/probe?module=tls_edge&target=127.0.0.1:${ports.HTTPS_PORT}`;
    return await checkAndReport({
      target: nativeStackTarget(runDir, Number(ports.SERVICE_PORT)),
      otherJobs: { acme: { url: `http://127.0.0.1:${ports.ACME_METRICS_PORT}/metrics` }, 'tls-edge': { url: probe } },
      workDir,
      requireData: ACME_PANELS_WITH_DATA,
    });
  } finally {
    blackbox.kill();
  }
}
