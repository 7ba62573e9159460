import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCertificate } from '../../service/src/acme/certificate-files.ts';
import { startPebble, type Pebble } from '../../testkit/pebble.ts';
import { freePorts } from '../../testkit/ports.ts';
import { generateEnvFile } from '../env-gen.ts';
import { CliError } from '../lib/log.ts';
import { ensureTools } from '../lib/tools.ts';
import { checkAndReport, nativeStackTarget } from '../monitoring/promql-check.ts';
import { ACME_PANELS_WITH_DATA } from '../monitoring/promql.ts';
import { acmePaths } from '../native/stack-plan.ts';
import { TEST_STACK_SETTINGS, runSmoke, withThrowawayStack } from './test-stack.ts';

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
  const stackTools = ['redis-server', 'redis-cli', 'nginx', 'chromium', 'certbot', 'openssl', 'curl', 'mkcert'];
  await ensureTools(...stackTools, 'pebble', 'pebble-challtestsrv', 'certutil', 'prometheus-blackbox-exporter');
  const portVars = ['HTTPS_PORT', 'HTTP_PORT', 'SERVICE_PORT', 'REDIS_PORT', 'ACME_METRICS_PORT'];
  return withThrowawayStack('test-acme', 'test-acme', portVars, async (stack, ports) => {
    const { runDir } = stack;
    // nginx's unprivileged workers serve the challenge files from inside the run directory.
    chmodSync(runDir, 0o755);
    const pebble = await startPebble({
      dir: join(runDir, 'pebble'),
      listen: '127.0.0.1',
      apiNames: ['127.0.0.1'],
      httpPort: Number(ports.HTTP_PORT),
      hosts: { [ACME_TEST_NAME]: '127.0.0.1' },
    });
    try {
      generateEnvFile(stack.envFile, acmeTestSettings(pebble));
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
      const code = await runSmoke(smokeEnv, smokeArgs.length > 0 ? smokeArgs : ['smoke/acme.smoke.ts'], 'smoke-acme');
      if (code !== 0) return code;
      return (await checkCertificateQueries(runDir, pebbleRoot, ports)) ? 0 : 1;
    } finally {
      await pebble.stop();
    }
  });
}

/**
 * promql-check with the jobs the certificate rules and panels select, against live series: acme (the renewer's
 * metrics) and tls-edge (Debian's prometheus-blackbox-exporter, a TLS probe of the edge, what clients are served,
 * trusting the CA's root), beside the service.
 */
async function checkCertificateQueries(runDir: string, caRoot: string, ports: Record<string, string>) {
  const workDir = join(runDir, 'promql-check');
  mkdirSync(workDir, { recursive: true });
  const config = join(workDir, 'blackbox.yml');
  const tcp = { tls: true, tls_config: { server_name: ACME_TEST_NAME, ca_file: caRoot } };
  // JSON is YAML.
  writeFileSync(config, JSON.stringify({ modules: { tls_edge: { prober: 'tcp', timeout: '5s', tcp } } }));
  const [blackboxPort] = await freePorts(1);
  const log = openSync(join(workDir, 'blackbox.log'), 'a');
  const args = [`--config.file=${config}`, `--web.listen-address=127.0.0.1:${blackboxPort}`];
  const blackbox = spawn('prometheus-blackbox-exporter', args, { stdio: ['ignore', log, log] });
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
