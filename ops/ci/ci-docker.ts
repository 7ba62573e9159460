import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readEnvFile, updateEnvFile } from '../../testkit/env-file.ts';
import { httpClient } from '../../testkit/http.ts';
import { watchCommandLines } from '../../testkit/proc.ts';
import { repoRoot } from '../../testkit/repo.ts';
import { DockerStack } from '../docker/docker-stack.ts';
import { engineSettings, startEngine, stopEngine } from '../docker/engine.ts';
import { generateEnvFile } from '../env-gen.ts';
import { CliError, say } from '../lib/log.ts';
import type { Phases } from '../lib/phases.ts';
import { capture, run, waitFor, type RunResult } from '../../testkit/run.ts';
import { runDrills } from '../swarm/drills.ts';
import { SwarmStack } from '../swarm/swarm-stack.ts';
import { composeAcmeCheck } from './ci-docker-acme.ts';
import { TEST_STACK_SETTINGS } from './test-stack.ts';

const log = (message: string) => say('ci-docker', message);
type Make = (args: string[], input?: string) => Promise<RunResult>;

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
  const make: Make = (args, input) =>
    run('make', ['-s', ...args], { cwd: repoRoot, env, stdio: input === undefined ? 'inherit' : 'pipe', input });
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
      await persistenceChecks(envFile, make);
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

async function persistenceChecks(envFile: string, make: Make): Promise<void> {
  const base = readEnvFile(join(repoRoot, '.run/smoke.env')).BASE_URL ?? 'https://localhost';
  const { send } = httpClient({ caFiles: [join(repoRoot, 'certs/ca.crt')] });
  const login = async (username: string, password: string): Promise<string> => {
    const response = await send(`${base}/api/login`, { json: { username, password } });
    if (response.status !== 200)
      throw new CliError(`login as ${username}: expected 200, got ${response.status} ${response.body}`);
    return response.cookie()!;
  };
  // A 401 (session lost) fails at once; 5xx or no answer is retried a while (the service reconnecting).
  const me = async (cookie: string, username: string): Promise<void> => {
    let last = '';
    const signedInAs = async () => {
      const response = await send(`${base}/api/me`, { headers: { cookie } }).catch((error: Error) => error);
      if (response instanceof Error) last = `no answer: ${response.message}`;
      else if (response.status === 401) throw new CliError(`/api/me: 401, the session of ${username} is gone`);
      else if (response.status === 200) return response.json<{ user?: { username?: string } }>().user?.username ?? '';
      else last = `${response.status} ${response.body}`;
    };
    const got = await waitFor(signedInAs, { timeoutMs: 30_000, intervalMs: 1000 });
    if (got === undefined) throw new CliError(`/api/me: still ${last} after 30 s`);
    if (got !== username) throw new CliError(`/api/me: expected ${username}, got ${got}`);
  };

  const { ADMIN_USERNAME: admin = '', ADMIN_PASSWORD: adminPassword = '' } = readEnvFile(envFile);
  const user = `ci-${randomBytes(4).toString('hex')}`;
  const userPassword = randomBytes(18).toString('base64');
  // The password on stdin, never in argv.
  await make(['users', 'ARGS=add ' + user], `${userPassword}\n`);
  const listed = await make(['users', 'ARGS=ls'], '');
  if (!listed.stdout.split(/\s/).includes(user)) throw new CliError(`make users ARGS=ls does not list ${user}`);
  log(`make users: added and listed ${user}`);
  const adminCookie = await login(admin, adminPassword);
  const userCookie = await login(user, userPassword);
  const sessionsWork = async () => {
    await me(adminCookie, admin);
    await me(userCookie, user);
  };
  await sessionsWork();

  await make(['restart', 'ARGS=service']);
  await sessionsWork();
  log('restart service: sessions and users survived');

  await make(['restart', 'ARGS=redis']);
  await sessionsWork();
  await login(user, userPassword);
  log('restart redis: sessions and users survived');

  const [before] = readEnvFile(envFile).SESSION_SECRETS!.split(',');
  await make(['rotate-secret']);
  const [newest, previous] = readEnvFile(envFile).SESSION_SECRETS!.split(',');
  if (newest === before || previous !== before)
    throw new CliError('SESSION_SECRETS was not rotated as expected (a new secret first, the previous one kept)');
  await sessionsWork();
  await me(await login(admin, adminPassword), admin);
  log('rotate-secret: existing sessions still work, new logins too');

  await noSecretOnCommandLines(envFile, 'make backup', () => make(['backup']));
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
