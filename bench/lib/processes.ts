// The Node processes the benchmarks start (the service, the reference apps). nginx in front of
// them is testkit's startEdge; their CPU and memory, testkit/proc.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { probe } from '../../testkit/http.ts';
import { freePorts } from '../../testkit/ports.ts';

export interface Running {
  pid: number;
  port: number;
  stop(): Promise<void>;
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** A Node program (a reference app, or the built service) on a free port, ready when `readyPath` answers. */
export async function startNode(
  script: string,
  env: Record<string, string>,
  options: { readyPath: string; logFile?: string },
): Promise<Running> {
  const [port] = (await freePorts(1)) as [number];
  const out = options.logFile ? openSync(options.logFile, 'a') : 'ignore';
  const child = spawn(process.execPath, [script], {
    env: { PATH: process.env.PATH, ...env, PORT: String(port) },
    stdio: ['ignore', out, out],
  });
  const deadline = Date.now() + 30_000;
  let ready = false;
  while (!ready && child.exitCode === null && Date.now() < deadline) {
    const { status } = await probe(`http://127.0.0.1:${port}${options.readyPath}`, { timeoutMs: 1000 });
    ready = status > 0 && status < 500;
    if (!ready) await sleep(100);
  }
  if (!ready) {
    await stopChild(child, 'SIGKILL');
    throw new Error(`${script} did not come up on port ${port}`);
  }
  return { pid: child.pid!, port, stop: () => stopChild(child) };
}
