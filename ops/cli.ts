import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { soak, soakTargetFor } from '../bench/soak.ts';
import { ensureLocalCertificates } from '../testkit/certs.ts';
import { readEnvFile } from '../testkit/env-file.ts';
import { fromRepo, repoRoot } from '../testkit/repo.ts';
import { ciDocker } from './ci/ci-docker.ts';
import { testAcmeStack } from './ci/test-acme-stack.ts';
import { runSmoke, testNativeStack } from './ci/test-stack.ts';
import { DockerStack } from './docker/docker-stack.ts';
import { findEngine, startEngine, stopEngine } from './docker/engine.ts';
import { buildStandinImages, neededImages } from './docker/standin-images.ts';
import { generateEnvFile } from './env-gen.ts';
import { CliError } from './lib/log.ts';
import { Phases } from './lib/phases.ts';
import { prettyLogs } from './lib/pretty-logs.ts';
import { run } from '../testkit/run.ts';
import { clearReports, totals } from './lib/test-reports.ts';
import { ensureTools } from './lib/tools.ts';
import { lint } from './lint.ts';
import { promqlCheckCommand } from './monitoring/promql-check.ts';
import { NativeStack } from './native/native-stack.ts';
import { backupContainerRedis, backupNativeRedis, defaultBackupName } from './operations/backup.ts';
import { rotateSessionSecret } from './operations/rotate-secret.ts';
import { runDrills } from './swarm/drills.ts';
import { SwarmStack } from './swarm/swarm-stack.ts';

const USAGE = `usage: node ops/cli.ts <command> [args]    (the Makefile's targets call these)

The running stack (Docker when an engine answers, else native processes; STACK=docker|native forces one):
  up                         create .env and certificates if missing, build, start, wait, print URL + login
  down                       stop the stack (data is kept)
  logs [--no-follow] [name]  follow logs (service, nginx, redis)
  ps                         processes / containers
  restart [name]             restart everything, or one of service, nginx, redis, acme (sessions survive)
  rotate-secret              new session secret first, previous kept (ROTATE_KEEP=2), service restarted
  backup [file]              consistent Redis snapshot into backups/
  users <args>               the user CLI inside the stack: add|passwd|rm <name>, ls, groups <name> [add|rm <group>...]
  soak                       5-minute mixed load against the stack: RSS curve, errors, restarts

Docker Swarm (deploy/swarm/stack.yml, docs/scaling.md; NODES=3: the three-node cluster of deploy/swarm/cluster.yml):
  swarm up|update|down       deploy (one node, or NODES=3) | rolling update of the service | remove
  swarm users <args>         the user CLI inside a service replica
  swarm drills               the drills under load: rolling update; on three nodes also drain, node loss, rejoin

Setup:  env [file] | certs [dir] | images [--list] [--force] (stand-in base images + the service image)
Tests:  lint | smoke | test-stack [jest args] | test-acme [jest args] | promql-check [--target host:port] | ci [docker]
Logs:   pretty-logs                 stdin to stdout, the service's JSON lines readable on a terminal
Parts:  docker <command> | native <command> | engine start|find|stop | ensure-tools <command...>

Environment: ENV_FILE (.env), RUN_DIR, CERTS_DIR, HTTPS_PORT, HTTP_PORT, SERVICE_PORT, REDIS_PORT,
TLS_CERT, TLS_KEY, TLS_OCSP, COMPOSE_PROFILES, COMPOSE_PROJECT_NAME, WAIT_TIMEOUT, READY_TIMEOUT, STOP_TIMEOUT (README).`;

type Mode = 'docker' | 'native';
type Command = (args: string[]) => Promise<number | void> | number | void;

/** A command's own switches (node:util parseArgs); unknown ones are an error (exit 2). */
function options<T extends Record<string, { type: 'boolean' | 'string' }>>(args: string[], spec: T) {
  try {
    return parseArgs({ args, options: spec, allowPositionals: true, strict: true });
  } catch (error) {
    throw new CliError(`${(error as Error).message}\n\n${USAGE}`, 2);
  }
}

/** STACK=docker|native, else for `up` docker when an engine answers, and for the rest the stack whose service runs. */
async function modeFor(command: string): Promise<Mode> {
  const forced = process.env.STACK;
  if (forced === 'docker' || forced === 'native') return forced;
  if (forced) throw new CliError(`STACK must be 'docker' or 'native', got '${forced}'`, 2);
  if (command === 'up') return (await findEngine()) ? 'docker' : 'native';
  return (await new DockerStack().isServiceRunning()) ? 'docker' : 'native';
}

/** The commands on a running stack, for either shape. */
function stackCommands(mode: Mode): Record<string, Command> {
  const docker = new DockerStack();
  const native = new NativeStack();
  const isDocker = mode === 'docker';
  return {
    up: () => (isDocker ? docker.up() : native.up()),
    down: (args) => (isDocker ? docker.down(args) : native.down()),
    ps: () => (isDocker ? docker.passthrough(['ps']) : native.ps()),
    logs: (args) => {
      const { values, positionals } = options(args, { 'no-follow': { type: 'boolean' } });
      const follow = !values['no-follow'];
      if (isDocker) return docker.logs(follow, positionals);
      const tail = spawn('tail', ['-n', ...(follow ? ['50', '-F'] : ['200']), ...native.logFiles(positionals)], {
        stdio: 'inherit',
      });
      // Ended by a signal (the reader went away, ^C) counts as done.
      return new Promise<number>((resolve) => tail.on('close', (code) => resolve(code ?? 0)));
    },
    restart: (args) => (isDocker ? docker.restart(args) : native.restart(args[0])),
    recreate: (args) => docker.recreate(args),
    users: (args) => (isDocker ? docker.users(args) : native.users(args)),
    'rotate-secret': async () => {
      const running = isDocker ? await docker.isServiceRunning() : native.isServiceRunning();
      rotateSessionSecret(isDocker ? docker.envFile : native.envFile, Number(process.env.ROTATE_KEEP ?? 2));
      if (!running)
        return void process.stderr.write(
          `the ${mode} stack is not running: the new secret applies at the next make up\n`,
        );
      // Docker: a new container (file secrets are bind mounts fixed when a container is created).
      await (isDocker ? docker.recreate(['service']) : native.restart('service'));
      process.stderr.write('service restarted with the new secret; existing sessions stay valid\n');
    },
    backup: async (args) => {
      const out = fromRepo(args[0] ?? defaultBackupName());
      if (!isDocker) return backupNativeRedis(out, native.redisEndpoint());
      await docker.connect();
      const id = await docker.containerOf('redis');
      if (!id) throw new CliError('the redis container is not running (make up)');
      await backupContainerRedis(out, id);
    },
    soak: async () => {
      if (isDocker) await docker.connect();
      const target = await soakTargetFor(mode, () => docker.containerOf('service'), native.runDir);
      const { SOAK_SECONDS = 300, SOAK_USERS = 4 } = process.env;
      return (await soak(target, { seconds: Number(SOAK_SECONDS), users: Number(SOAK_USERS) })) ? 0 : 1;
    },
  };
}

function swarmCommands(): Record<string, Command> {
  const swarm = new SwarmStack();
  return {
    up: () => swarm.up(),
    update: () => swarm.update(),
    down: () => swarm.down(),
    users: (args) => swarm.users(args),
    drills: async () => {
      // The engine that runs the cluster (or the single-node swarm) must be found first.
      await swarm.docker.connect();
      const phases = new Phases('swarm drills');
      try {
        await runDrills(swarm, phases);
      } finally {
        process.stderr.write(`${phases.table()}\n`);
      }
    },
  };
}

/** Runs `args[0]` from a table of commands, with the rest as its arguments. */
async function dispatch(table: Record<string, Command>, args: string[], usage = USAGE): Promise<number | void> {
  const [name = '', ...rest] = args;
  const command = table[name];
  if (!command) throw new CliError(`unknown command '${name}'\n\n${usage}`, 2);
  return command(rest);
}

const STACK_COMMANDS = ['up', 'down', 'logs', 'ps', 'restart', 'rotate-secret', 'backup', 'users', 'soak'];
function onRunningStack(name: string): Command {
  return async (args) => dispatch(stackCommands(await modeFor(name)), [name, ...args]);
}

const commands: Record<string, Command> = {
  ...Object.fromEntries(STACK_COMMANDS.map((name) => [name, onRunningStack(name)])),
  docker: async ([sub = '', ...rest]) => {
    const docker = new DockerStack();
    if (sub === 'compose') return docker.connect().then(() => docker.passthrough(rest));
    if (sub === 'service-logs') return void process.stdout.write(await docker.serviceLogs());
    if (sub === 'secrets') return void docker.writeComposeInputs();
    return dispatch(stackCommands('docker'), [sub, ...rest]);
  },
  native: (args) => dispatch(stackCommands('native'), args),
  swarm: (args) => dispatch(swarmCommands(), args, 'usage: node ops/cli.ts swarm up|update|down|users|drills'),
  env: ([file]) => void generateEnvFile(fromRepo(file ?? process.env.ENV_FILE ?? '.env')),
  certs: ([dir]) => void ensureLocalCertificates(fromRepo(dir ?? process.env.CERTS_DIR ?? 'certs')),
  images: async (args) => {
    const { values } = options(args, { list: { type: 'boolean' }, force: { type: 'boolean' } });
    const docker = new DockerStack();
    process.env.DOCKER_HOST = await startEngine();
    if (values.list) return void process.stdout.write(`${neededImages(docker.profiles()).join('\n')}\n`);
    // The service image is built with .env's settings: a fresh clone gets one, as with `make up`.
    generateEnvFile(docker.envFile);
    await buildStandinImages({ force: values.force === true, profiles: docker.profiles() });
    await docker.buildService();
  },
  engine: (args) =>
    dispatch(
      {
        find: async () => {
          const host = await findEngine();
          if (!host)
            throw new CliError(
              'no Docker engine answers (DOCKER_HOST, /var/run/docker.sock, /run/docker-x.sock); start one: node ops/cli.ts engine start',
            );
          process.stdout.write(`${host}\n`);
        },
        start: async () => void process.stdout.write(`${await startEngine()}\n`),
        stop: () => stopEngine(),
      },
      args,
      'usage: node ops/cli.ts engine start|find|stop',
    ),
  'ensure-tools': (args) => ensureTools(...args),
  lint: () => lint(),
  smoke: (args) => {
    const stackFile = fromRepo(process.env.SMOKE_STACK_FILE ?? '.run/smoke.env');
    if (!process.env.BASE_URL && !existsSync(stackFile))
      throw new CliError(
        'no running stack found (.run/smoke.env): start one with `make up`, or set BASE_URL (and SMOKE_ENV_FILE, SMOKE_CA_FILE)',
      );
    return runSmoke(readEnvFile(stackFile), args, process.env.SMOKE_REPORT_LABEL ?? 'smoke');
  },
  'test-stack': (args) => testNativeStack(args),
  'test-acme': (args) => testAcmeStack(args),
  'promql-check': (args) => promqlCheckCommand(args),
  'pretty-logs': () => prettyLogs(process.stdin, process.stdout),
  // What .ci/run runs: the README's test command, then the Docker stack, each phase timed, and
  // last the total of every jest suite it ran. `ci docker` runs the Docker part alone.
  ci: async ([part]) => {
    const phases = new Phases('CI');
    clearReports();
    try {
      if (part !== 'docker')
        await phases.run('make test', () => run('make', ['test'], { cwd: repoRoot, stdio: 'inherit' }));
      await ciDocker(phases);
    } finally {
      process.stderr.write(`${phases.table()}\n`);
      const { passed, failed, lines } = totals();
      process.stdout.write(`\n${lines.join('\n')}\n${passed} passed, ${failed} failed\n`);
    }
  },
};

async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  if (!command || ['--help', '-h', 'help'].includes(command)) {
    process.stdout.write(`${USAGE}\n`);
    return command ? 0 : 2;
  }
  return (await dispatch(commands, argv)) ?? 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`error: ${error instanceof CliError ? error.message : detail}\n`);
    process.exit(error instanceof CliError ? error.exitCode : 1);
  },
);
