import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { CliError, say } from '../lib/log.ts';
import { run, sleep, waitFor } from '../lib/run.ts';
import { ensureTools } from '../lib/tools.ts';

const log = (message: string) => say('docker-engine', message);

export interface EngineSettings {
  /** Socket of the engine this tool starts (never /var/run/docker.sock: no clash with a system engine). */
  socket: string;
  dataRoot: string;
  logFile: string;
  waitSeconds: number;
}

/** DOCKERD_SOCK, DOCKERD_DATA_ROOT, DOCKERD_LOG, DOCKERD_WAIT, with their defaults. */
export function engineSettings(env: NodeJS.ProcessEnv = process.env): EngineSettings {
  return {
    socket: env.DOCKERD_SOCK ?? '/run/docker-x.sock',
    dataRoot: env.DOCKERD_DATA_ROOT ?? '/var/lib/docker',
    logFile: env.DOCKERD_LOG ?? '/var/log/authstack-dockerd.log',
    waitSeconds: Number(env.DOCKERD_WAIT ?? 60),
  };
}

const pidFileOf = (socket: string) => socket.replace(/\.sock$/, '.pid');
const execRootOf = (socket: string) => socket.replace(/\.sock$/, '');

async function answers(host: string): Promise<boolean> {
  return (
    (
      await run('docker', ['info'], {
        env: { ...process.env, DOCKER_HOST: host },
        allowFailure: true,
        timeoutMs: 15_000,
      })
    ).code === 0
  );
}

/**
 * An engine that answers: the caller's DOCKER_HOST, the system socket, or the one this tool
 * starts on its own socket. Undefined when none does (or there is no docker client at all).
 */
export async function findEngine(settings = engineSettings()): Promise<string | undefined> {
  if (!(await run('sh', ['-c', 'command -v docker'], { allowFailure: true })).stdout.trim()) return undefined;
  for (const host of [process.env.DOCKER_HOST, 'unix:///var/run/docker.sock', `unix://${settings.socket}`]) {
    if (host && (await answers(host))) return host;
  }
  return undefined;
}

function runningPid(settings: EngineSettings): number | undefined {
  const pidFile = pidFileOf(settings.socket);
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/**
 * Makes sure an engine answers, starting Debian's dockerd when none does, and returns the
 * DOCKER_HOST to use. For machines without systemd (CI, sandboxes): the engine gets its own
 * socket, exec root and pidfile. `fresh` (CI) always starts a new engine on `settings.dataRoot`,
 * which the caller makes empty, so no image or build cache of an earlier run can hide a broken step.
 */
export async function startEngine(settings = engineSettings(), options: { fresh?: boolean } = {}): Promise<string> {
  await ensureTools('docker');
  if (!options.fresh) {
    const found = await findEngine(settings);
    if (found) return found;
  }
  if (process.getuid?.() !== 0)
    throw new CliError(
      "no Docker engine answers and starting one needs root.\n       Start one (e.g. 'sudo systemctl start docker') or rerun as root.",
    );
  await ensureTools('dockerd');
  if (options.fresh && runningPid(settings)) await stopEngine(settings);
  if (runningPid(settings)) {
    log(`dockerd (pid ${runningPid(settings)}) is running but not answering yet; waiting`);
  } else {
    rmSync(pidFileOf(settings.socket), { force: true });
    log(`starting dockerd on unix://${settings.socket} (data root ${settings.dataRoot}, log ${settings.logFile})`);
    mkdirSync(dirname(settings.logFile), { recursive: true });
    mkdirSync(settings.dataRoot, { recursive: true });
    const out = openSync(settings.logFile, 'a');
    // Detached with closed stdin and redirected output: the engine outlives this command and
    // never holds the caller's pipes open (a CI runner would otherwise wait for it forever).
    const child = spawn(
      'dockerd',
      [
        '--data-root',
        settings.dataRoot,
        '--exec-root',
        execRootOf(settings.socket),
        '--pidfile',
        pidFileOf(settings.socket),
        '-H',
        `unix://${settings.socket}`,
      ],
      {
        detached: true,
        stdio: ['ignore', out, out],
      },
    );
    child.unref();
  }
  const host = `unix://${settings.socket}`;
  const up = await waitFor(async () => ((await answers(host)) ? true : undefined), {
    timeoutMs: settings.waitSeconds * 1000,
    intervalMs: 1000,
  });
  if (!up) {
    const tailLines = existsSync(settings.logFile)
      ? readFileSync(settings.logFile, 'utf8').split('\n').slice(-30).join('\n')
      : '';
    throw new CliError(
      `dockerd did not answer on ${host} within ${settings.waitSeconds}s; last log lines:\n${tailLines}`,
    );
  }
  return host;
}

/** Stops the engine this tool started (by its pidfile); it stops its containers first. */
export async function stopEngine(settings = engineSettings()): Promise<void> {
  const pid = runningPid(settings);
  if (!pid) return log('no dockerd started by this tool is running');
  log(`stopping dockerd (pid ${pid})`);
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 60; i += 1) {
    if (!runningPid(settings)) return;
    await sleep(1000);
  }
  throw new CliError(`dockerd (pid ${pid}) still running after 60 s`);
}
