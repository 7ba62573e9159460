import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { readEnvFile } from '../../testkit/env-file.ts';
import { freePorts } from '../../testkit/ports.ts';
import { repoRoot } from '../../testkit/repo.ts';
import { run } from '../../testkit/run.ts';
import { generateEnvFile } from '../env-gen.ts';
import { say } from '../lib/log.ts';
import { reportFile } from '../lib/test-reports.ts';
import { ensureTools } from '../lib/tools.ts';
import { checkAndReport, nativeStackTarget } from '../monitoring/promql-check.ts';
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
 * `test` against a native stack in the throwaway run directory .run/<dir>-<pid>, with its own env file,
 * certificates and free ports (the variables `portVars` names), so a `make up` stack is never touched. The
 * stack is always torn down; the run directory is kept after a failure (or with KEEP_RUN_DIR=1).
 */
export async function withThrowawayStack(
  label: string,
  dir: string,
  portVars: string[],
  test: (stack: NativeStack, ports: Record<string, string>) => Promise<number>,
): Promise<number> {
  const runDir = join(repoRoot, '.run', `${dir}-${process.pid}`);
  const free = await freePorts(portVars.length);
  const ports: Record<string, string> = Object.fromEntries(portVars.map((name, i) => [name, String(free[i])]));
  const env: NodeJS.ProcessEnv = { ...process.env, ...ports };
  // Hermetic: no real-certificate settings from the caller's shell.
  for (const key of ['TLS_CERT', 'TLS_KEY', 'TLS_OCSP', 'TLS_MODE']) delete env[key];
  const stack = new NativeStack({ runDir, envFile: join(runDir, 'test.env'), certsDir: join(runDir, 'certs'), env });
  let code = 1;
  try {
    code = await test(stack, ports);
    return code;
  } finally {
    await stack.down().catch((error: unknown) => say(label, `teardown: ${String(error)}`));
    if (code === 0 && process.env.KEEP_RUN_DIR !== '1') rmSync(runDir, { recursive: true, force: true });
    else say(label, `run directory kept for inspection: ${runDir}`);
  }
}

/** The native stack end to end: the smoke tests, then promql-check against its service. */
export async function testNativeStack(smokeArgs: string[]): Promise<number> {
  await ensureTools('redis-server', 'redis-cli', 'nginx', 'mkcert', 'chromium', 'prometheus');
  const portVars = ['HTTPS_PORT', 'HTTP_PORT', 'SERVICE_PORT', 'REDIS_PORT'];
  return withThrowawayStack('test-stack', 'test', portVars, async (stack, ports) => {
    generateEnvFile(stack.envFile, TEST_STACK_SETTINGS);
    await stack.up();
    // What the stack says about itself (BASE_URL, SMOKE_CA_FILE, ...), ahead of the caller's environment.
    const stackFile = join(stack.runDir, 'smoke.env');
    const code = await runSmoke({ ...readEnvFile(stackFile), SMOKE_STACK_FILE: stackFile }, smokeArgs, 'smoke-native');
    if (code !== 0) return code;
    // The smoke tests' logins, failures, throttling and logouts are the data the panels need
    // (a run of only some smoke tests checks the expressions without requiring data).
    say('test-stack', 'smoke tests passed; checking the dashboards and alert rules against the stack (promql-check)');
    const target = nativeStackTarget(stack.runDir, Number(ports.SERVICE_PORT));
    const check = { target, workDir: join(stack.runDir, 'promql-check'), requireData: smokeArgs.length === 0 };
    const ok = await checkAndReport(check).catch((error: unknown) => {
      say('test-stack', `promql-check: ${error instanceof Error ? error.message : String(error)}`);
      return false;
    });
    return ok ? 0 : 1;
  });
}
