import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CliError } from '../lib/log.ts';
import { run, sleep, waitFor, which } from '../../testkit/run.ts';

const executable = (command: string): string => {
  const path = command.startsWith('/') ? command : which(command);
  if (!path) throw new CliError(`${command} is not installed`);
  return path;
};

/**
 * The native stack's processes, through Debian's start-stop-daemon (dpkg's, so always there):
 * each runs in the background, detached from the terminal, its PID in RUN_DIR/<name>.pid, and is
 * only signalled while that PID still runs the program it was started as (--exec), so `down`
 * stops exactly what `up` started and never a stranger with a recycled PID.
 */
export class Daemons {
  private readonly runDir: string;
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

  /** start-stop-daemon and its arguments: first those that pick `name`'s process (pid file and program), then `action`. */
  private ssd(name: string, ...action: string[]): [string, string[]] {
    const program = this.programs[name];
    if (!program) throw new Error(`no daemon named ${name}`);
    const select = ['--pidfile', this.pidFile(name), '--exec', executable(program)];
    return [executable('start-stop-daemon'), [...select, ...action]];
  }

  /** A start-stop-daemon query or signal to `name`'s recorded process: true when it matched and succeeded. */
  private ask(name: string, ...action: string[]): boolean {
    return existsSync(this.pidFile(name)) && spawnSync(...this.ssd(name, ...action), { stdio: 'ignore' }).status === 0;
  }

  async start(name: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; log: string }) {
    const detached = ['--start', '--background', '--make-pidfile', '--output', options.log];
    const action = [...detached, '--chdir', options.cwd ?? process.cwd(), '--', ...args];
    const started = await run(...this.ssd(name, ...action), { env: options.env, allowFailure: true });
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
    const tails = wait.logs
      .filter((file) => existsSync(file))
      .map((file) => `--- last lines of ${file}:\n${readFileSync(file, 'utf8').split('\n').slice(-30).join('\n')}`);
    throw new CliError([`${name}: no ${why}`, ...tails].join('\n'));
  }

  /** Stops `name` with `signal` (TERM), then KILL when it is still there after the timeout. */
  async stop(name: string, { signal = 'SIGTERM', timeoutMs }: { signal?: NodeJS.Signals; timeoutMs: number }) {
    if (!this.isRunning(name)) {
      rmSync(this.pidFile(name), { force: true });
      return false;
    }
    const retry = `${signal.replace(/^SIG/, '')}/${Math.ceil(timeoutMs / 1000)}/KILL/5`;
    await run(...this.ssd(name, '--stop', '--retry', retry, '--remove-pidfile'), { allowFailure: true });
    return true;
  }

  isRunning(name: string): boolean {
    return this.ask(name, '--status');
  }

  /** The PID of `name` while it runs (start-stop-daemon --status has read and checked the pid file). */
  pidOf(name: string): number | undefined {
    return this.isRunning(name) ? Number(readFileSync(this.pidFile(name), 'utf8').trim()) : undefined;
  }

  /** Sends a signal (HUP: nginx reloads its configuration) to a running daemon. */
  signal(name: string, sig: NodeJS.Signals): boolean {
    return this.ask(name, '--stop', '--signal', sig.replace(/^SIG/, ''));
  }
}
