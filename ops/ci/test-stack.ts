import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensureLocalCertificates } from '../../testkit/certs.ts';
import { generateEnvFile } from '../env-gen.ts';
import { say } from '../lib/log.ts';
import { freePorts } from '../../testkit/ports.ts';
import { repoRoot } from '../../testkit/repo.ts';
import { run } from '../../testkit/run.ts';
import { reportFile } from '../lib/test-reports.ts';
import { ensureTools } from '../lib/tools.ts';
import { checkAndReport, nativeStackTarget } from '../monitoring/promql-check.ts';
import { buildIfStale } from '../lib/build.ts';
import { NativeStack } from '../native/native-stack.ts';

/**
 * Non-default settings both stacks run with under test, so the smoke tests prove that a setting in
 * .env reaches the service: sign-up on (registration answers 201 through the edge), a short idle timeout.
 */
export const TEST_STACK_SETTINGS = { SIGNUP_ENABLED: 'true', SESSION_IDLE_TIMEOUT: '12s' } as const;

/** The smoke tests against a stack, through their public inputs only (docs/edge.md); `label` names the JSON report. */
export async function runSmoke(env: Record<string, string>, args: string[] = [], label = 'smoke'): Promise<number> {
  const jest = ['--json', `--outputFile=${reportFile(label)}`, ...args];
  const options = { cwd: repoRoot, env: { ...process.env, ...env }, stdio: 'inherit', allowFailure: true } as const;
  return (await run('npm', ['run', '-s', 'smoke', '--', ...jest], options)).code;
}

/**
 * The native stack end to end in a throwaway run directory (own .env, certificates and free ports,
 * so a `make up` stack is never touched): the smoke tests, then promql-check against its service,
 * and always a teardown. The run directory is kept after a failure (or with KEEP_RUN_DIR=1).
 */
export async function testNativeStack(smokeArgs: string[]): Promise<number> {
  await ensureTools('redis-server', 'redis-cli', 'nginx', 'mkcert', 'chromium', 'prometheus');
  const runDir = join(repoRoot, '.run', `test-${process.pid}`);
  const envFile = join(runDir, 'test.env');
  const certsDir = join(runDir, 'certs');
  const [HTTPS_PORT, HTTP_PORT, SERVICE_PORT, REDIS_PORT] = (await freePorts(4)).map(String);
  // Hermetic: no real-certificate settings or smoke overrides from the caller's shell.
  const env: NodeJS.ProcessEnv = { ...process.env, HTTPS_PORT, HTTP_PORT, SERVICE_PORT, REDIS_PORT };
  for (const key of ['TLS_CERT', 'TLS_KEY', 'TLS_OCSP', 'BASE_URL', 'SMOKE_EXPECTED_CLIENT_IP']) delete env[key];
  const stack = new NativeStack({ runDir, envFile, certsDir, env });
  let code = 1;
  try {
    await buildIfStale();
    generateEnvFile(envFile, TEST_STACK_SETTINGS);
    ensureLocalCertificates(certsDir, { quiet: true });
    await stack.up();
    const smokeEnv = {
      BASE_URL: `https://localhost:${HTTPS_PORT}`,
      SMOKE_HTTP_URL: `http://localhost:${HTTP_PORT}`,
      SMOKE_ENV_FILE: envFile,
      SMOKE_CA_FILE: join(certsDir, 'ca.crt'),
      SMOKE_SERVICE_LOG_CMD: `cat '${join(runDir, 'service.log')}'`,
      SMOKE_STACK_FILE: join(runDir, 'no-stack-file'),
      SMOKE_NATIVE_RUN_DIR: runDir,
    };
    code = await runSmoke(smokeEnv, smokeArgs, 'smoke-native');
    // The smoke tests' logins, failures, throttling and logouts are the data the panels need
    // (a run of only some smoke tests checks the expressions without requiring data).
    if (code === 0) {
      say('test-stack', 'smoke tests passed; checking the dashboards and alert rules against the stack (promql-check)');
      const target = nativeStackTarget(runDir, Number(SERVICE_PORT));
      const check = { target, workDir: join(runDir, 'promql-check'), requireData: smokeArgs.length === 0 };
      const ok = await checkAndReport(check).catch((error: unknown) => {
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
