import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensureLocalCertificates } from '../../testkit/certs.ts';
import { generateEnvFile } from '../env-gen.ts';
import { say } from '../lib/log.ts';
import { freePorts } from '../../testkit/ports.ts';
import { repoRoot } from '../../testkit/repo.ts';
import { run } from '../lib/run.ts';
import { reportFile } from '../lib/test-reports.ts';
import { ensureTools } from '../lib/tools.ts';
import { checkAndReport, nativeStackTarget } from '../monitoring/promql-check.ts';
import { buildIfStale } from '../lib/build.ts';
import { NativeStack } from '../native/native-stack.ts';

/**
 * Non-default settings the stacks under test run with, so the smoke tests prove that a setting
 * in .env reaches the service through either stack: sign-up on (registration answers 201
 * through the edge) and a short idle timeout (a session ends after it).
 */
export const TEST_STACK_SETTINGS = { SIGNUP_ENABLED: 'true', SESSION_IDLE_TIMEOUT: '12s' } as const;

/**
 * The smoke tests (jest, smoke/jest.config.ts) against a stack, given through their public
 * inputs only (docs/edge.md). `label` names the run's JSON report (lib/test-reports.ts).
 */
export async function runSmoke(env: Record<string, string>, args: string[] = [], label = 'smoke'): Promise<number> {
  const result = await run(
    'npm',
    ['run', '-s', 'smoke', '--', '--json', `--outputFile=${reportFile(label)}`, ...args],
    {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      stdio: 'inherit',
      allowFailure: true,
    },
  );
  return result.code;
}

/**
 * End-to-end test of the stack without Docker: build, start the native stack in a throwaway run
 * directory (own .env with non-default settings, own certificates, free ports), run the HTTPS
 * smoke tests against it, then prove the dashboards' and alert rules' PromQL against what its
 * service exports (ops/monitoring/promql-check.ts: a throwaway Prometheus scrapes it), and always
 * tear it down. A stack started with `make up` is never touched. The run directory is kept after
 * a failure (or with KEEP_RUN_DIR=1).
 */
export async function testNativeStack(smokeArgs: string[]): Promise<number> {
  await ensureTools('redis-server', 'redis-cli', 'nginx', 'mkcert', 'chromium', 'prometheus');
  const runDir = join(repoRoot, '.run', `test-${process.pid}`);
  mkdirSync(runDir, { recursive: true });
  const envFile = join(runDir, 'test.env');
  const certsDir = join(runDir, 'certs');
  const [httpsPort, httpPort, servicePort, redisPort] = await freePorts(4);
  // Hermetic: no real-certificate settings or smoke overrides from the caller's shell.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HTTPS_PORT: String(httpsPort),
    HTTP_PORT: String(httpPort),
    SERVICE_PORT: String(servicePort),
    REDIS_PORT: String(redisPort),
  };
  for (const key of ['TLS_CERT', 'TLS_KEY', 'TLS_OCSP', 'BASE_URL', 'SMOKE_EXPECTED_CLIENT_IP']) delete env[key];
  const stack = new NativeStack({ runDir, envFile, certsDir, env });
  let code = 1;
  try {
    await buildIfStale();
    generateEnvFile(envFile, TEST_STACK_SETTINGS);
    ensureLocalCertificates(certsDir, { quiet: true });
    await stack.up();
    code = await runSmoke(
      {
        BASE_URL: `https://localhost:${httpsPort}`,
        SMOKE_HTTP_URL: `http://localhost:${httpPort}`,
        SMOKE_ENV_FILE: envFile,
        SMOKE_CA_FILE: join(certsDir, 'ca.crt'),
        SMOKE_SERVICE_LOG_CMD: `cat '${join(runDir, 'service.log')}'`,
        SMOKE_STACK_FILE: join(runDir, 'no-stack-file'),
        SMOKE_NATIVE_RUN_DIR: runDir,
      },
      smokeArgs,
      'smoke-native',
    );
    // The smoke tests' logins, failures, throttling and logouts are the data the panels need
    // (a run of only some smoke tests checks the expressions without requiring data).
    if (code === 0) {
      say('test-stack', 'smoke tests passed; checking the dashboards and alert rules against the stack (promql-check)');
      const ok = await checkAndReport({
        target: nativeStackTarget(runDir, servicePort!),
        workDir: join(runDir, 'promql-check'),
        requireData: smokeArgs.length === 0,
      }).catch((error: unknown) => {
        say('test-stack', `promql-check: ${error instanceof Error ? error.message : String(error)}`);
        return false;
      });
      if (!ok) code = 1;
    }
    return code;
  } finally {
    await stack.down().catch((error: unknown) => say('test-stack', `teardown: ${String(error)}`));
    if (code === 0 && process.env.KEEP_RUN_DIR !== '1') rmSync(runDir, { recursive: true, force: true });
    else say('test-stack', `run directory kept for inspection: ${runDir}`);
  }
}
