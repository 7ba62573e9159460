import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readEnvFile, updateEnvFile } from '../../testkit/env-file.ts';
import { watchCommandLines } from '../../testkit/proc.ts';
import { repoRoot } from '../../testkit/repo.ts';
import { DockerStack } from '../docker/docker-stack.ts';
import { engineSettings, startEngine, stopEngine } from '../docker/engine.ts';
import { generateEnvFile } from '../env-gen.ts';
import { CliError, say } from '../lib/log.ts';
import type { Phases } from '../lib/phases.ts';
import { capture, run } from '../../testkit/run.ts';
import { runDrills } from '../swarm/drills.ts';
import { SwarmStack } from '../swarm/swarm-stack.ts';
import { composeAcmeCheck } from './ci-docker-acme.ts';
import { TEST_STACK_SETTINGS, runSmoke } from './test-stack.ts';

const log = (message: string) => say('ci-docker', message);

/**
 * CI for the Docker stack through the make targets users run: under CI=true a fresh engine on an empty
 * data root (no cache of an earlier run can hide a broken step), the compose stack, the swarm and its drills.
 */
export async function ciDocker(phases: Phases): Promise<void> {
  const fresh = process.env.CI === 'true' || process.env.CI === '1';
  const ciEngine = { socket: '/run/authstack-ci-docker.sock', logFile: '/var/log/authstack-ci-dockerd.log' };
  const settings = {
    ...engineSettings(),
    ...(fresh ? { ...ciEngine, dataRoot: mkdtempSync('/var/lib/authstack-ci-docker.') } : {}),
  };
  const envFile = join(repoRoot, '.run/ci/ci.env');
  rmSync(envFile, { force: true });
  const ciVars = { STACK: 'docker', ENV_FILE: envFile, SMOKE_REPORT_LABEL: 'smoke-docker' };
  const env: NodeJS.ProcessEnv = { ...process.env, ...ciVars };
  const make = (args: string[]) => run('make', ['-s', ...args], { cwd: repoRoot, env, stdio: 'inherit' });
  const stack = new DockerStack({ envFile, env });
  const swarm = new SwarmStack({ envFile, env });
  let startedEngine = false;
  try {
    await phases.run('docker: engine', async () => {
      env.DOCKER_HOST = process.env.DOCKER_HOST = await startEngine(settings, { fresh });
      startedEngine = true;
      const format = 'server {{.Server.Version}}, client {{.Client.Version}}';
      const versions = await capture('docker', ['version', '--format', format]);
      log(`engine on ${env.DOCKER_HOST}${fresh ? ` (fresh data root ${settings.dataRoot})` : ''}: ${versions}`);
      // Leftovers of an aborted run on a reused engine must not leak into this one.
      generateEnvFile(envFile, TEST_STACK_SETTINGS);
      await stack.down(['--volumes']).catch(() => undefined);
    });
    await phases.run('docker: base images', () => stack.ensureBaseImages());
    await phases.run('docker: make up STACK=docker', () => make(['up']));
    await phases.run('docker: make smoke', () => make(['smoke']));
    await phases.run('docker: persistence, rotation, backup, users', async () => {
      // Sessions must outlive restarts that take longer than the smoke tests' 12 s idle
      // timeout: a changed setting reaches the running service through `make up` again.
      updateEnvFile(envFile, { SESSION_IDLE_TIMEOUT: '30m' });
      await make(['up']);
      // smoke/operations.smoke.ts, through the make targets with this stack's env file.
      const makeCommand = `ENV_FILE='${envFile}' STACK=docker make -s -C '${repoRoot}'`;
      const stackFile = readEnvFile(join(repoRoot, '.run/smoke.env'));
      const smoke = { ...stackFile, SMOKE_MAKE_CMD: makeCommand };
      const code = await runSmoke(smoke, ['smoke/operations.smoke.ts'], 'smoke-docker-operations');
      if (code !== 0) throw new CliError(`the operations smoke tests failed against the compose stack (exit ${code})`);
    });
    // The ACME stack (its own env file, so its own secrets) and the swarm shape publish the same
    // ports: the compose stack makes way first.
    await phases.run('docker: make down', () => stack.down(['--volumes']));
    await phases.run('docker: ACME against Pebble (TLS_MODE=acme)', () => composeAcmeCheck(env));
    // The swarm shape on three nodes (deploy/swarm/cluster.yml): the same stack file and tooling
    // as the single-node swarm, plus the registry, the placement and the node drills.
    await phases.run('swarm: make swarm-up NODES=3', () => make(['swarm-up', 'NODES=3']));
    const memory = await swarm.cluster.sampleMemory();
    try {
      await noSecretOnCommandLines(envFile, 'the swarm drills', () => runDrills(swarm, phases));
    } finally {
      log(memory.stop());
    }
  } finally {
    await phases.run('docker: teardown', async () => {
      if (startedEngine) {
        await swarm.down().catch((error: unknown) => log(`swarm down: ${String(error)}`));
        await swarm.cluster.down({ volumes: true });
      }
      await stack.down(['--volumes']).catch((error: unknown) => log(`down: ${String(error)}`));
      if (startedEngine && fresh && process.env.CI_KEEP_ENGINE !== '1') {
        await stopEngine(settings);
        rmSync(settings.dataRoot, { recursive: true, force: true });
      }
    });
  }
}

/** Fails when a value of the env file was on a command line (every local user can read them) while `operation` ran. */
async function noSecretOnCommandLines(envFile: string, what: string, operation: () => Promise<unknown>): Promise<void> {
  const secrets = Object.values(readEnvFile(envFile)).flatMap((value) => value.split(',').map((v) => v.trim()));
  const watcher = watchCommandLines(secrets);
  let leaks;
  try {
    await operation();
  } finally {
    leaks = watcher.stop();
  }
  const leaked = leaks.map((leak) => `${leak.pid}: ${leak.args}`).join('; ');
  if (leaked) throw new CliError(`${what}: a secret appeared on a command line: ${leaked}`);
  log(`${what}: no secret on any command line (watched every process while it ran)`);
}
