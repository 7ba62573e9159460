import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CliError } from '../lib/log.ts';
import { run, sleep, waitFor, which } from '../lib/run.ts';

export interface StartOptions {
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** The file the process appends its stdout and stderr to. */
  log: string;
}

/**
 * The native stack's processes, through Debian's start-stop-daemon (dpkg's, so always there):
 * each runs in the background, detached from the terminal, its PID in RUN_DIR/<name>.pid, and is
 * only signalled while that PID still runs the program it was started as (--exec), so `down`
 * stops exactly what `up` started and never a stranger with a recycled PID.
 */
export class Daemons {
  readonly runDir: string;
  private readonly programs: Readonly<Record<string, string>>;

  /** `programs`: each daemon's name and the command it runs (a name on PATH, or a path). */
  constructor(runDir: string, programs: Readonly<Record<string, string>>) {
    this.runDir = runDir;
    this.programs = programs;
    mkdirSync(runDir, { recursive: true });
  }

  private pidFile(name: string): string {
    return join(this.runDir, `${name}.pid`);
  }

  private static path(command: string): string {
    const path = command.startsWith('/') ? command : which(command);
    if (!path) throw new CliError(`${command} is not installed`);
    return path;
  }

  /** start-stop-daemon's arguments that pick `name`'s process: its pid file and its program. */
  private selector(name: string): string[] {
    const program = this.programs[name];
    if (!program) throw new Error(`no daemon named ${name}`);
    return ['--pidfile', this.pidFile(name), '--exec', Daemons.path(program)];
  }

  async start(name: string, args: string[], options: StartOptions): Promise<number> {
    const started = await run(
      Daemons.path('start-stop-daemon'),
      [
        '--start',
        '--background',
        '--make-pidfile',
        '--output',
        options.log,
        '--chdir',
        options.cwd ?? process.cwd(),
        ...this.selector(name),
        '--',
        ...args,
      ],
      { env: options.env, allowFailure: true },
    );
    // A program that fails at once (bad configuration, port taken) is gone a moment later.
    await sleep(200);
    const pid = this.pidOf(name);
    if (started.code !== 0 || pid === undefined) throw new CliError(`${name} exited at once; see ${options.log}`);
    return pid;
  }

  /**
   * Waits until `ready` answers true while `name` runs; fails naming `what` did not happen, with
   * the last lines of the given logs, when the daemon exits or the time runs out.
   */
  async waitReady(
    name: string,
    wait: { ready: () => Promise<boolean>; what: string; timeoutMs: number; logs: string[] },
  ): Promise<void> {
    const outcome = await waitFor(
      async () => ((await wait.ready()) ? true : this.isRunning(name) ? undefined : false),
      { timeoutMs: wait.timeoutMs, intervalMs: 200 },
    );
    if (outcome === true) return;
    const why = outcome === false ? `${name} exited` : `${wait.what} within ${wait.timeoutMs / 1000}s`;
    throw new CliError([`${name}: no ${why}`, ...wait.logs.map((file) => tail(file))].join('\n'));
  }

  /** Stops `name` with `signal` (TERM), then KILL when it is still there after the timeout. */
  async stop(name: string, options: { signal?: NodeJS.Signals; timeoutMs: number }): Promise<boolean> {
    if (!this.isRunning(name)) {
      rmSync(this.pidFile(name), { force: true });
      return false;
    }
    const retry = `${(options.signal ?? 'SIGTERM').replace(/^SIG/, '')}/${Math.ceil(options.timeoutMs / 1000)}/KILL/5`;
    await run(
      Daemons.path('start-stop-daemon'),
      ['--stop', '--retry', retry, '--remove-pidfile', ...this.selector(name)],
      { allowFailure: true },
    );
    return true;
  }

  isRunning(name: string): boolean {
    if (!existsSync(this.pidFile(name))) return false;
    return (
      spawnSync(Daemons.path('start-stop-daemon'), ['--status', ...this.selector(name)], { stdio: 'ignore' }).status ===
      0
    );
  }

  pidOf(name: string): number | undefined {
    if (!this.isRunning(name)) return undefined;
    const pid = Number(readFileSync(this.pidFile(name), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  }

  /** Sends a signal (HUP: nginx reloads its configuration) to a running daemon. */
  signal(name: string, sig: NodeJS.Signals): boolean {
    if (!this.isRunning(name)) return false;
    const sent = spawnSync(
      Daemons.path('start-stop-daemon'),
      ['--stop', '--signal', sig.replace(/^SIG/, ''), ...this.selector(name)],
      { stdio: 'ignore' },
    );
    return sent.status === 0;
  }
}

function tail(file: string, lines = 30): string {
  if (!existsSync(file)) return '';
  return `--- last lines of ${file}:\n${readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n')}`;
}
