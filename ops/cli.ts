import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { ensureLocalCertificates } from '../testkit/certs.ts';
import { ciDocker } from './ci/ci-docker.ts';
import { runSmoke, testNativeStack } from './ci/test-stack.ts';
import { DockerStack } from './docker/docker-stack.ts';
import { findEngine, startEngine, stopEngine } from './docker/engine.ts';
import { buildStandinImages, neededImages } from './docker/standin-images.ts';
import { generateEnvFile } from './env-gen.ts';
import { readEnvFile } from '../testkit/env-file.ts';
import { prettyLogs } from './lib/pretty-logs.ts';
import { CliError } from './lib/log.ts';
import { Phases } from './lib/phases.ts';
import { clearReports, totals } from './lib/test-reports.ts';
import { fromRepo, repoRoot } from '../testkit/repo.ts';
import { run } from './lib/run.ts';
import { ensureTools } from './lib/tools.ts';
import { lint } from './lint.ts';
import { soak, soakTargetFor } from './soak.ts';
import { promqlCheckCommand } from './monitoring/promql-check.ts';
import { NativeStack } from './native/native-stack.ts';
import { runDrills } from './swarm/drills.ts';
import { SwarmStack } from './swarm/swarm-stack.ts';
import { backupContainerRedis, backupNativeRedis, defaultBackupName } from './operations/backup.ts';
import { rotateSessionSecret } from './operations/rotate-secret.ts';

const USAGE = `usage: node ops/cli.ts <command> [args]    (the Makefile's targets call these)

The running stack (Docker when an engine answers, else native processes; STACK=docker|native forces one):
  up                         create .env and certificates if missing, build, start, wait, print URL + login
  down                       stop the stack (data is kept)
  logs [--no-follow] [name]  follow logs (service, nginx, redis)
  ps                         processes / containers
  restart [name]             restart everything, or one of service, nginx, redis (sessions survive)
  rotate-secret              new session secret first, previous kept (ROTATE_KEEP=2), service restarted
  backup [file]              consistent Redis snapshot into backups/
  users <args>               the user CLI inside the stack: add|passwd|rm <name>, ls
  soak                       5-minute mixed load against the stack: RSS curve, errors, restarts

Docker Swarm (deploy/swarm/stack.yml, docs/scaling.md):
  swarm up|update|down       deploy on a single-node swarm | rolling update of the service | remove
  swarm users <args>         the user CLI inside a service replica
  swarm drills               the CI drills: rolling update, replica loss, Redis failover, under load

Setup:  env [file] | certs [dir] | images (stand-in base images + the service image)
Tests:  lint | smoke | test-stack [jest args] | promql-check [--target host:port] | ci [docker]
Logs:   pretty-logs                 stdin to stdout, the service's JSON lines readable on a terminal
Parts:  docker <command> | native <command> | engine start|find|stop | ensure-tools <command...>

Environment: ENV_FILE (.env), RUN_DIR, CERTS_DIR, HTTPS_PORT, HTTP_PORT, SERVICE_PORT, REDIS_PORT,
TLS_CERT, TLS_KEY, TLS_OCSP, COMPOSE_PROFILES, WAIT_TIMEOUT, READY_TIMEOUT, STOP_TIMEOUT (README).`;

type Mode = 'docker' | 'native';

/** STACK=docker|native, else docker when an engine answers (also the one `up` starts), else native. */
async function pickMode(): Promise<Mode> {
  const forced = process.env.STACK;
  if (forced === 'docker' || forced === 'native') return forced;
  if (forced) throw new CliError(`STACK must be 'docker' or 'native', got '${forced}'`, 2);
  return (await findEngine()) ? 'docker' : 'native';
}

/** Which stack an operation on a running stack means: the one whose service runs. */
async function runningMode(): Promise<Mode> {
  const forced = process.env.STACK;
  if (forced === 'docker' || forced === 'native') return forced;
  return (await new DockerStack().isServiceRunning()) ? 'docker' : 'native';
}

/** `tail -F`, or compose logs: follows until interrupted. */
async function follow(files: string[], followMode: boolean): Promise<number> {
  const child = spawn('tail', [...(followMode ? ['-n', '50', '-F'] : ['-n', '200']), ...files], { stdio: 'inherit' });
  return new Promise((resolve) => child.on('close', (code) => resolve(code ?? 0)));
}

async function stackCommand(command: string, args: string[], mode: Mode): Promise<number> {
  const native = new NativeStack();
  const docker = new DockerStack();
  const noFollow = args.includes('--no-follow');
  const names = args.filter((a) => a !== '--no-follow');
  switch (command) {
    case 'up':
      await (mode === 'docker' ? docker.up() : native.up());
      return 0;
    case 'down':
      await (mode === 'docker' ? docker.down(args) : native.down());
      return 0;
    case 'ps':
      if (mode === 'docker') return docker.passthrough(['ps']);
      native.ps();
      return 0;
    case 'logs':
      return mode === 'docker' ? docker.logs(!noFollow, names) : follow(native.logFiles(names), !noFollow);
    case 'restart':
      if (mode === 'docker') await docker.restart(names);
      else await native.restart(names[0]);
      return 0;
    case 'recreate':
      await docker.recreate(names);
      return 0;
    case 'rotate-secret': {
      const keep = Number(process.env.ROTATE_KEEP ?? 2);
      const running = mode === 'docker' ? await docker.isServiceRunning() : native.isServiceRunning();
      rotateSessionSecret(mode === 'docker' ? docker.envFile : native.envFile, keep);
      if (!running) {
        process.stderr.write(`the ${mode} stack is not running: the new secret applies at the next make up\n`);
        return 0;
      }
      // Docker: a new container (file secrets are bind mounts fixed when a container is created).
      if (mode === 'docker') await docker.recreate(['service']);
      else await native.restart('service');
      process.stderr.write('service restarted with the new secret; existing sessions stay valid\n');
      return 0;
    }
    case 'backup': {
      const out = fromRepo(args[0] ?? defaultBackupName());
      if (mode === 'docker') {
        await docker.connect();
        const id = await docker.containerOf('redis');
        if (!id) throw new CliError('the redis container is not running (make up)');
        await backupContainerRedis(out, id);
      } else {
        await backupNativeRedis(out, native.redisEndpoint());
      }
      return 0;
    }
    case 'users':
      return mode === 'docker' ? docker.users(args) : native.users(args);
    case 'soak': {
      if (mode === 'docker') await docker.connect();
      const target = await soakTargetFor(mode, () => docker.containerOf('service'), native.runDir);
      return (await soak(target, { seconds: Number(process.env.SOAK_SECONDS ?? 300), users: Number(process.env.SOAK_USERS ?? 4) })) ? 0 : 1;
    }
    default:
      throw new CliError(`unknown command '${command}'\n\n${USAGE}`, 2);
  }
}

async function swarmCommand(command: string, args: string[]): Promise<number> {
  const swarm = new SwarmStack();
  switch (command) {
    case 'up':
      await swarm.up();
      return 0;
    case 'update':
      await swarm.update();
      return 0;
    case 'down':
      await swarm.down();
      return 0;
    case 'users':
      return swarm.users(args);
    case 'drills': {
      const phases = new Phases('swarm drills');
      try {
        await runDrills(swarm, phases);
      } finally {
        process.stderr.write(`${phases.table()}\n`);
      }
      return 0;
    }
    default:
      throw new CliError(`usage: node ops/cli.ts swarm up|update|down|users|drills`, 2);
  }
}

const STACK_COMMANDS = new Set(['up', 'down', 'logs', 'ps', 'restart', 'rotate-secret', 'backup', 'users', 'soak']);

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command ? 0 : 2;
  }
  if (STACK_COMMANDS.has(command)) return stackCommand(command, args, command === 'up' ? await pickMode() : await runningMode());
  switch (command) {
    case 'docker': {
      const [sub = '', ...rest] = args;
      const docker = new DockerStack();
      if (sub === 'compose') {
        await docker.connect();
        return docker.passthrough(rest);
      }
      if (sub === 'service-logs') {
        process.stdout.write(await docker.serviceLogs());
        return 0;
      }
      if (sub === 'secrets') {
        docker.writeComposeInputs();
        return 0;
      }
      return stackCommand(sub, rest, 'docker');
    }
    case 'native':
      return stackCommand(args[0] ?? '', args.slice(1), 'native');
    case 'swarm':
      return swarmCommand(args[0] ?? '', args.slice(1));
    case 'env':
      generateEnvFile(fromRepo(args[0] ?? process.env.ENV_FILE ?? '.env'));
      return 0;
    case 'certs':
      ensureLocalCertificates(fromRepo(args[0] ?? process.env.CERTS_DIR ?? 'certs'));
      return 0;
    case 'images': {
      const docker = new DockerStack();
      process.env.DOCKER_HOST = await startEngine();
      if (args.includes('--list')) {
        process.stdout.write(`${neededImages(docker.profiles()).join('\n')}\n`);
        return 0;
      }
      await buildStandinImages({ force: args.includes('--force'), profiles: docker.profiles() });
      await docker.buildService();
      return 0;
    }
    case 'engine': {
      const sub = args[0];
      if (sub === 'find') {
        const host = await findEngine();
        if (!host)
          throw new CliError('no Docker engine answers (DOCKER_HOST, /var/run/docker.sock, /run/docker-x.sock); start one: node ops/cli.ts engine start');
        process.stdout.write(`${host}\n`);
      } else if (sub === 'start') process.stdout.write(`${await startEngine()}\n`);
      else if (sub === 'stop') await stopEngine();
      else throw new CliError('usage: node ops/cli.ts engine start|find|stop', 2);
      return 0;
    }
    case 'ensure-tools':
      await ensureTools(...args);
      return 0;
    case 'lint':
      await lint();
      return 0;
    case 'smoke': {
      const stackFile = fromRepo(process.env.SMOKE_STACK_FILE ?? '.run/smoke.env');
      if (!process.env.BASE_URL && !existsSync(stackFile))
        throw new CliError('no running stack found (.run/smoke.env): start one with `make up`, or set BASE_URL (and SMOKE_ENV_FILE, SMOKE_CA_FILE)');
      return runSmoke(readEnvFile(stackFile), args, process.env.SMOKE_REPORT_LABEL ?? 'smoke');
    }
    case 'test-stack':
      return testNativeStack(args);
    case 'promql-check':
      return promqlCheckCommand(args);
    case 'pretty-logs':
      await prettyLogs(process.stdin, process.stdout);
      return 0;
    case 'ci': {
      // What .ci/run runs: the README's test command, then the Docker stack, each phase timed.
      // `ci docker` runs the Docker part alone (for working on it).
      const phases = new Phases('CI');
      clearReports();
      try {
        if (args[0] !== 'docker') await phases.run('make test', () => run('make', ['test'], { cwd: repoRoot, stdio: 'inherit' }));
        await ciDocker(phases);
      } finally {
        process.stderr.write(`${phases.table()}\n`);
        // The last line: every jest suite CI ran (unit, integration, each smoke run), totalled.
        const { passed, failed, lines } = totals();
        process.stdout.write(`\n${lines.join('\n')}\n${passed} passed, ${failed} failed\n`);
      }
      return 0;
    }
    default:
      throw new CliError(`unknown command '${command}'\n\n${USAGE}`, 2);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof CliError) {
      process.stderr.write(`error: ${error.message}\n`);
      process.exit(error.exitCode);
    }
    process.stderr.write(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
