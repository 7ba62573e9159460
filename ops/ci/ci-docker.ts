import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { watchCommandLines } from '../../testkit/proc.ts';
import { readEnvFile, updateEnvFile } from '../../testkit/env-file.ts';
import { httpClient } from '../../testkit/http.ts';
import { CliError, say } from '../lib/log.ts';
import type { Phases } from '../lib/phases.ts';
import { repoRoot } from '../../testkit/repo.ts';
import { run, sleep } from '../lib/run.ts';
import { ensureTools } from '../lib/tools.ts';
import { DockerStack } from '../docker/docker-stack.ts';
import { engineSettings, startEngine, stopEngine } from '../docker/engine.ts';
import { generateEnvFile } from '../env-gen.ts';
import { runDrills } from '../swarm/drills.ts';
import { SwarmStack } from '../swarm/swarm-stack.ts';
import { TEST_STACK_SETTINGS } from './test-stack.ts';

const log = (message: string) => say('ci-docker', message);

/**
 * CI for the Docker stack: a real engine (under CI=true a fresh one on an empty data root, so
 * no image, layer or build cache of an earlier run can hide a broken step), stand-in base
 * images when there is no registry, `make up STACK=docker` with non-default settings in the
 * env file, the smoke tests, persistence across restarts, rotation, backup and the user CLI;
 * then the swarm shape (`make swarm-up`) and its drills under load; and always a teardown.
 * Every step goes through the make targets users run.
 */
export async function ciDocker(phases: Phases): Promise<void> {
  const fresh = process.env.CI === 'true' || process.env.CI === '1';
  const settings = fresh
    ? {
        ...engineSettings(),
        socket: '/run/authstack-ci-docker.sock',
        dataRoot: mkdtempSync('/var/lib/authstack-ci-docker.'),
        logFile: '/var/log/authstack-ci-dockerd.log',
      }
    : engineSettings();
  const ciDir = join(repoRoot, '.run/ci');
  mkdirSync(ciDir, { recursive: true });
  const envFile = join(ciDir, 'ci.env');
  rmSync(envFile, { force: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    STACK: 'docker',
    ENV_FILE: envFile,
    SMOKE_REPORT_LABEL: 'smoke-docker',
  };
  const make = (args: string[], input?: string) =>
    run('make', ['-s', ...args], { cwd: repoRoot, env, stdio: input === undefined ? 'inherit' : 'pipe', input });
  const stack = new DockerStack({ envFile, env });
  const swarm = new SwarmStack({ envFile, env });
  let startedEngine = false;
  try {
    await phases.run('docker: engine', async () => {
      await ensureTools('docker', 'docker-compose');
      process.env.DOCKER_HOST = await startEngine(settings, { fresh });
      env.DOCKER_HOST = process.env.DOCKER_HOST;
      startedEngine = true;
      log(
        `engine on ${process.env.DOCKER_HOST}${fresh ? ` (fresh data root ${settings.dataRoot})` : ''}: ${(await run('docker', ['version', '--format', 'server {{.Server.Version}}, client {{.Client.Version}}'])).stdout.trim()}`,
      );
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
    // The swarm shape publishes the same ports: the compose stack makes way first.
    await phases.run('docker: make down', () => stack.down(['--volumes']));
    await phases.run('swarm: make swarm-up', () => make(['swarm-up']));
    await noSecretOnCommandLines(envFile, 'the swarm drills', () => runDrills(swarm, phases));
  } finally {
    await phases.run('docker: teardown', async () => {
      if (startedEngine) await swarm.down().catch((error: unknown) => log(`swarm down: ${String(error)}`));
      await stack.down(['--volumes']).catch((error: unknown) => log(`down: ${String(error)}`));
      if (startedEngine && fresh && process.env.CI_KEEP_ENGINE !== '1') {
        await stopEngine(settings);
        rmSync(settings.dataRoot, { recursive: true, force: true });
      }
    });
  }
}

async function persistenceChecks(
  envFile: string,
  make: (args: string[], input?: string) => Promise<unknown>,
): Promise<void> {
  const smoke = readEnvFile(join(repoRoot, '.run/smoke.env'));
  const base = smoke.BASE_URL ?? 'https://localhost';
  const { send } = httpClient({ caFiles: [join(repoRoot, 'certs/ca.crt')] });
  const settingsOf = () => readEnvFile(envFile);
  const login = async (username: string, password: string): Promise<string> => {
    const response = await send(`${base}/api/login`, { json: { username, password } });
    if (response.status !== 200)
      throw new CliError(`login as ${username}: expected 200, got ${response.status} ${response.body}`);
    return response.cookie()!;
  };
  /** GET /api/me is 200 for the user: a 401 (session lost) fails at once; 5xx or no answer is retried a while (the service reconnecting). */
  const me = async (cookie: string, username: string): Promise<void> => {
    let last = '';
    for (let i = 0; i < 30; i += 1) {
      const response = await send(`${base}/api/me`, { headers: { cookie } }).catch((error: Error) => ({
        status: 0,
        body: error.message,
        json: () => ({}),
      }));
      if (response.status === 200) {
        const got = (response.json() as { user?: { username?: string } }).user?.username;
        if (got !== username) throw new CliError(`/api/me: expected ${username}, got ${got}`);
        return;
      }
      if (response.status === 401) throw new CliError(`/api/me: 401, the session of ${username} is gone`);
      last = `${response.status} ${response.body}`;
      await sleep(1000);
    }
    throw new CliError(`/api/me: still ${last} after 30 s`);
  };

  const admin = settingsOf().ADMIN_USERNAME!;
  const adminPassword = settingsOf().ADMIN_PASSWORD!;
  const user = `ci-${randomBytes(4).toString('hex')}`;
  const userPassword = randomBytes(18).toString('base64');
  // The password on stdin, never in argv.
  await make(['users', 'ARGS=add ' + user], `${userPassword}\n`);
  const listed = await run('make', ['-s', 'users', 'ARGS=ls'], {
    cwd: repoRoot,
    env: { ...process.env, STACK: 'docker', ENV_FILE: envFile },
  });
  if (!listed.stdout.split(/\s/).includes(user)) throw new CliError(`make users ARGS=ls does not list ${user}`);
  log(`make users: added and listed ${user}`);
  const adminCookie = await login(admin, adminPassword);
  const userCookie = await login(user, userPassword);
  await me(adminCookie, admin);
  await me(userCookie, user);

  await make(['restart', 'ARGS=service']);
  await me(adminCookie, admin);
  await me(userCookie, user);
  log('restart service: sessions and users survived');

  await make(['restart', 'ARGS=redis']);
  await me(adminCookie, admin);
  await me(userCookie, user);
  await login(user, userPassword);
  log('restart redis: sessions and users survived');

  const before = settingsOf().SESSION_SECRETS!;
  await make(['rotate-secret']);
  const after = settingsOf().SESSION_SECRETS!;
  const [newest, previous] = after.split(',');
  if (newest === before.split(',')[0] || previous !== before.split(',')[0])
    throw new CliError('SESSION_SECRETS was not rotated as expected (a new secret first, the previous one kept)');
  await me(adminCookie, admin);
  await me(userCookie, user);
  await me(await login(admin, adminPassword), admin);
  log('rotate-secret: existing sessions still work, new logins too');

  await noSecretOnCommandLines(envFile, 'make backup', () => make(['backup']));
}

/**
 * Runs an operation (a backup, the drills) while watching every process's command line on the
 * machine (every local user can read them), and fails when one carried a value of the env file.
 */
async function noSecretOnCommandLines(envFile: string, what: string, operation: () => Promise<unknown>): Promise<void> {
  const secrets = Object.values(readEnvFile(envFile)).flatMap((value) => value.split(',').map((v) => v.trim()));
  const watcher = watchCommandLines(secrets);
  let leaks;
  try {
    await operation();
  } finally {
    leaks = watcher.stop();
  }
  if (leaks.length > 0)
    throw new CliError(
      `${what}: a secret appeared on a command line: ${leaks.map((l) => `${l.pid}: ${l.args}`).join('; ')}`,
    );
  log(`${what}: no secret on any command line (watched every process while it ran)`);
}
