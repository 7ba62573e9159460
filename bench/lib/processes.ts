// Processes the benchmarks start (the service, the reference apps, nginx) and what they cost.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureLocalCertificates } from '../../ops/certs.ts';
import { freePorts } from '../../ops/lib/ports.ts';
import { probe } from '../../ops/lib/probe.ts';
import { waitFor } from '../../ops/lib/run.ts';
import { globalsFor } from '../../ops/native/native-stack.ts';
import { renderNginx } from '../../ops/native/nginx-config.ts';

/** Linux clock ticks per second (USER_HZ), the unit of utime/stime in /proc/<pid>/stat. */
const TICKS_PER_SECOND = 100;

/** CPU time (user + system, ms) a process and its reaped children used so far. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime, stime are fields 14 and 15 (index 11 and 12 after the command name).
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

/** Resident memory of a process in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) * 1024;
}

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
export async function startNode(script: string, env: Record<string, string>, options: { readyPath: string; logFile?: string }): Promise<Running> {
  const [port] = (await freePorts(1)) as [number];
  const out = options.logFile ? openSync(options.logFile, 'a') : 'ignore';
  const child = spawn(process.execPath, [script], { env: { PATH: process.env.PATH, ...env, PORT: String(port) }, stdio: ['ignore', out, out] });
  const ready = await waitFor(
    async () => {
      if (child.exitCode !== null) return false;
      const { status } = await probe({ origin: `http://127.0.0.1:${port}`, connectHost: '127.0.0.1', port, path: options.readyPath, timeoutMs: 1000 });
      return status > 0 && status < 500 ? true : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  if (ready !== true) {
    await stopChild(child, 'SIGKILL');
    throw new Error(`${script} did not come up on port ${port}`);
  }
  return { pid: child.pid!, port, stop: () => stopChild(child) };
}

/** The project's own nginx configuration (rendered as the native stack renders it) in front of `upstreamPort`. */
export async function startEdge(upstreamPort: number): Promise<Running & { origin: string; caFile: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'authstack-bench-edge-'));
  const certs = await ensureLocalCertificates(join(dir, 'certs'), { useMkcert: 'never', quiet: true });
  const [https, http] = (await freePorts(2)) as [number, number];
  const out = join(dir, 'nginx');
  mkdirSync(join(dir, 'acme'));
  renderNginx(out, {
    UPSTREAM_ADDR: `127.0.0.1:${upstreamPort}`,
    UPSTREAM_MODE: 'static',
    UPSTREAM_RESOLVER: '127.0.0.1',
    NGINX_HTTP_LISTEN: `127.0.0.1:${http}`,
    NGINX_HTTPS_LISTEN: `127.0.0.1:${https}`,
    PUBLIC_ORIGIN: `https://localhost:${https}`,
    TLS_CERT: certs.leafCrt,
    TLS_KEY: certs.leafKey,
    TLS_OCSP: 'off',
    ACME_WEBROOT: join(dir, 'acme'),
    METRICS_AT_EDGE: 'off',
  });
  // Access logs to a file, as in the native stack (the edge's own cost is part of every run).
  const log = openSync(join(dir, 'access.log'), 'a');
  const child = spawn('nginx', ['-p', `${out}/`, '-c', join(out, 'nginx.conf'), '-g', await globalsFor(out)], { stdio: ['ignore', log, log] });
  const origin = `https://localhost:${https}`;
  const ready = await waitFor(
    async () =>
      (await probe({ origin, connectHost: '127.0.0.1', port: https, path: '/', caFile: certs.caCrt, timeoutMs: 1000 })).status > 0 ? true : undefined,
    { timeoutMs: 15_000, intervalMs: 100 },
  );
  if (!ready) throw new Error('nginx for the bench did not come up');
  return {
    pid: child.pid!,
    port: https,
    origin,
    caFile: certs.caCrt,
    stop: async () => {
      await stopChild(child, 'SIGQUIT');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
