import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from '../lib/run.ts';

/**
 * The kernel's start time of a process (field 22 of /proc/<pid>/stat, in clock ticks since
 * boot), or undefined when no such process exists. Together with the PID it names one process
 * for good: a PID recycled by another program has another start time.
 */
export function processStartTime(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces or ")": count after the last ")".
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19];
}

/** PIDs of the direct children of a process (nginx workers of a master, say). */
export function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) children.push(Number(entry));
    } catch {
      /* gone meanwhile */
    }
  }
  return children;
}

interface ProcessRecord {
  pid: number;
  startTime: string;
}

export interface StartOptions {
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** Files the process appends its stdout and stderr to (the same file for both is fine). */
  stdout: string;
  stderr: string;
}

/**
 * A minimal supervisor for the native stack's processes. Why not a process manager (pm2,
 * supervisord, systemd units): the stack must start and stop as an unprivileged user, from a
 * fresh clone, without a daemon of its own; this is the small part of one it needs. Each
 * process runs detached (its own session, no terminal, stdin closed), so it outlives the
 * command that started it, and is recorded in RUN_DIR/<name>.process.json as PID + kernel start
 * time, so `down` stops exactly what `up` started and never a stranger with a recycled PID.
 */
export class Supervisor {
  readonly runDir: string;

  constructor(runDir: string) {
    this.runDir = runDir;
  }

  private recordFile(name: string): string {
    return join(this.runDir, `${name}.process.json`);
  }

  /** The PID of the named process when it is alive and still the one we started. */
  pidOf(name: string): number | undefined {
    const file = this.recordFile(name);
    if (!existsSync(file)) return undefined;
    let record: ProcessRecord;
    try {
      record = JSON.parse(readFileSync(file, 'utf8')) as ProcessRecord;
    } catch {
      return undefined;
    }
    return processStartTime(record.pid) === record.startTime ? record.pid : undefined;
  }

  isRunning(name: string): boolean {
    return this.pidOf(name) !== undefined;
  }

  /** Starts a detached process and records it; fails when it exits at once. */
  async start(name: string, command: string, args: readonly string[], options: StartOptions): Promise<number> {
    mkdirSync(this.runDir, { recursive: true });
    const out = openSync(options.stdout, 'a');
    const err = options.stderr === options.stdout ? out : openSync(options.stderr, 'a');
    try {
      const child = spawn(command, args, { cwd: options.cwd, env: options.env, detached: true, stdio: ['ignore', out, err] });
      const pid = await new Promise<number>((resolve, reject) => {
        child.once('error', reject);
        child.once('spawn', () => resolve(child.pid!));
      });
      child.unref();
      await sleep(200);
      const startTime = processStartTime(pid);
      if (startTime === undefined || child.exitCode !== null) throw new Error(`${name} exited at once; see ${options.stderr}`);
      writeFileSync(this.recordFile(name), JSON.stringify({ pid, startTime } satisfies ProcessRecord));
      return pid;
    } finally {
      closeSync(out);
      if (err !== out) closeSync(err);
    }
  }

  /**
   * Sends the graceful signal (TERM by default; nginx wants QUIT), waits up to `timeoutMs`,
   * then KILLs the process and the children it had (they would outlive a killed master).
   * Returns false when it was not running.
   */
  async stop(name: string, options: { signal?: NodeJS.Signals; timeoutMs: number; onKill?: () => void }): Promise<boolean> {
    const pid = this.pidOf(name);
    if (pid === undefined) {
      rmSync(this.recordFile(name), { force: true });
      return false;
    }
    const children = childrenOf(pid);
    signal(pid, options.signal ?? 'SIGTERM');
    const deadline = Date.now() + options.timeoutMs;
    while (this.isRunning(name) && Date.now() < deadline) await sleep(100);
    if (this.isRunning(name)) {
      options.onKill?.();
      signal(pid, 'SIGKILL');
      for (const child of children) signal(child, 'SIGKILL');
      while (this.isRunning(name)) await sleep(50);
    }
    rmSync(this.recordFile(name), { force: true });
    return true;
  }

  /** Sends a signal (e.g. HUP: nginx reloads) to a running process. */
  signal(name: string, sig: NodeJS.Signals): boolean {
    const pid = this.pidOf(name);
    if (pid === undefined) return false;
    signal(pid, sig);
    return true;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}
