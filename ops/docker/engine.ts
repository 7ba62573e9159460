import { mkdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { CliError, say } from '../lib/log.ts';
import { run, which } from '../../testkit/run.ts';
import { ensureTools } from '../lib/tools.ts';
import { Daemons } from '../native/daemons.ts';

const log = (message: string) => say('docker-engine', message);

/**
 * DOCKERD_SOCK, DOCKERD_DATA_ROOT, DOCKERD_LOG, DOCKERD_WAIT, with their defaults. The socket is
 * never /var/run/docker.sock: the engine this tool starts cannot clash with a system engine.
 */
export function engineSettings(env: NodeJS.ProcessEnv = process.env) {
  return {
    socket: env.DOCKERD_SOCK ?? '/run/docker-x.sock',
    dataRoot: env.DOCKERD_DATA_ROOT ?? '/var/lib/docker',
    logFile: env.DOCKERD_LOG ?? '/var/log/authstack-dockerd.log',
    waitSeconds: Number(env.DOCKERD_WAIT ?? 60),
  };
}

export type EngineSettings = ReturnType<typeof engineSettings>;

/** The engine as a daemon named after its socket: /run/x.sock has its pidfile /run/x.pid and exec root /run/x/. */
function engineDaemon(settings: EngineSettings) {
  const name = basename(settings.socket, '.sock');
  const dir = dirname(settings.socket);
  return { name, execRoot: join(dir, name), daemons: new Daemons(dir, { [name]: 'dockerd' }) };
}

async function answers(host: string): Promise<boolean> {
  const env = { ...process.env, DOCKER_HOST: host };
  return (await run('docker', ['info'], { env, allowFailure: true, timeoutMs: 15_000 })).code === 0;
}

/** An engine that answers: the caller's DOCKER_HOST, the system socket, or this tool's own. */
export async function findEngine(settings = engineSettings()): Promise<string | undefined> {
  if (!which('docker')) return undefined;
  for (const host of [process.env.DOCKER_HOST, 'unix:///var/run/docker.sock', `unix://${settings.socket}`]) {
    if (host && (await answers(host))) return host;
  }
  return undefined;
}

/**
 * The DOCKER_HOST of an answering engine, starting dockerd on its own socket when none answers
 * (machines without systemd: CI, sandboxes). `fresh` (CI) always starts a new one on a data root
 * the caller made empty, so no image or build cache of an earlier run can hide a broken step.
 */
export async function startEngine(settings = engineSettings(), options: { fresh?: boolean } = {}): Promise<string> {
  await ensureTools('docker');
  if (!options.fresh) {
    const found = await findEngine(settings);
    if (found) return found;
  }
  if (process.getuid?.() !== 0)
    throw new CliError(`no Docker engine answers and starting one needs root.
       Start one (e.g. 'sudo systemctl start docker') or rerun as root.`);
  await ensureTools('dockerd');
  const { name, execRoot, daemons } = engineDaemon(settings);
  if (options.fresh && daemons.isRunning(name)) await stopEngine(settings);
  const host = `unix://${settings.socket}`;
  const pid = daemons.pidOf(name);
  if (pid) log(`dockerd (pid ${pid}) is running but not answering yet; waiting`);
  else {
    log(`starting dockerd on ${host} (data root ${settings.dataRoot}, log ${settings.logFile})`);
    mkdirSync(dirname(settings.logFile), { recursive: true });
    mkdirSync(settings.dataRoot, { recursive: true });
    // start-stop-daemon detaches it (stdin /dev/null, output to the log): the engine outlives this
    // command and never holds the caller's pipes open (a CI runner would wait for it forever).
    // dockerd's own pidfile is another file: it refuses to start when its pidfile names a live
    // process, and start-stop-daemon's names dockerd itself.
    const pidfile = join(execRoot, 'dockerd.pid');
    const args = ['--data-root', settings.dataRoot, '--exec-root', execRoot, '--pidfile', pidfile, '-H', host];
    await daemons.start(name, args, { env: process.env, log: resolve(settings.logFile) });
  }
  const wait = { what: `answer on ${host}`, timeoutMs: settings.waitSeconds * 1000, logs: [settings.logFile] };
  await daemons.waitReady(name, { ready: () => answers(host), ...wait });
  return host;
}

/** Stops the engine this tool started (by its pidfile); it stops its containers first. */
export async function stopEngine(settings = engineSettings()): Promise<void> {
  const { name, daemons } = engineDaemon(settings);
  const pid = daemons.pidOf(name);
  if (!pid) return log('no dockerd started by this tool is running');
  log(`stopping dockerd (pid ${pid})`);
  await daemons.stop(name, { timeoutMs: 60_000 });
}
