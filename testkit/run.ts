import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

/** A failure the user can act on: printed without a stack trace, with this exit code. */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Written to the child's stdin (never argv: passwords and secrets travel this way). */
  input?: string | Buffer;
  /** 'inherit' streams the child's output to ours; 'pipe' (default) captures it. */
  stdio?: 'inherit' | 'pipe';
  /** Resolve with the exit code instead of throwing on a non-zero exit. */
  allowFailure?: boolean;
  /** Kill the child after this many milliseconds. */
  timeoutMs?: number;
  /**
   * Where stdout goes instead of being captured: 'ignore' for programs that open /dev/stdout
   * themselves (nginx's access_log: a captured stdout is a socket, and opening a socket by path
   * fails with ENXIO), or an open file descriptor for binary output.
   */
  stdout?: 'ignore' | number;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a program (never through a shell: arguments are passed as they are, no quoting
 * surprises). Throws a CliError naming the command and its stderr when it fails.
 */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const inherit = options.stdio === 'inherit';
  const stdin = inherit && options.input === undefined ? 'inherit' : 'pipe';
  const stdout = options.stdout ?? (inherit ? 'inherit' : 'pipe');
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: [stdin, stdout, inherit ? 'inherit' : 'pipe'],
      timeout: options.timeoutMs,
    });
    let out = '';
    let err = '';
    child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'ENOENT' ? new CliError(`${command} is not installed (or not on PATH)`) : error);
    });
    child.on('close', (code, signal) => {
      const result = { code: code ?? (signal ? 128 : 1), stdout: out, stderr: err };
      if (result.code === 0 || options.allowFailure) return resolve(result);
      // Some tools report on stdout (yamllint, promtool): show whichever said something.
      const said = (err.trim() || out.trim()).split('\n').slice(-15).join('\n');
      const what = `${[command, ...args].join(' ')} failed (exit ${signal ?? result.code})`;
      reject(new CliError(`${what}${said ? `:\n${said}` : ''}`, result.code || 1));
    });
    // A child that exits without reading its stdin closes the pipe: that is not our failure.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(options.input ?? '');
  });
}

/** The trimmed stdout of a successful run. */
export async function capture(command: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  return (await run(command, args, options)).stdout.trim();
}

/** Where an executable is found on PATH (plus the sbin directories root tools live in). */
export function which(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const candidate of dirs.filter(Boolean).map((dir) => join(dir, name))) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** Polls `check` until it returns a value (not undefined) or the deadline passes. */
export async function waitFor<T>(
  check: () => Promise<T | undefined>,
  options: { timeoutMs: number; intervalMs?: number },
): Promise<T | undefined> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) return undefined;
    await sleep(options.intervalMs ?? 250);
  }
}
