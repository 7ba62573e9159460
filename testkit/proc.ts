import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Every process's command line on this machine (containers' processes included: same kernel). */
export function commandLines(): Array<{ pid: string; args: string }> {
  const lines: Array<{ pid: string; args: string }> = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      lines.push({ pid, args: readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ') });
    } catch {
      /* the process ended meanwhile */
    }
  }
  return lines;
}

/**
 * Watches every process's command line while an operation runs (a backup, a drill), sampling
 * /proc every few milliseconds, and reports each one that carried a secret. Every local user
 * can read /proc/<pid>/cmdline, so a secret passed as an argument, even for a moment, is out.
 */
export function watchCommandLines(
  secrets: readonly string[],
  intervalMs = 5,
): { stop(): Array<{ pid: string; args: string }> } {
  const values = secrets.filter((value) => value.length >= 8);
  const seen = new Map<string, string>();
  const sample = () => {
    for (const { pid, args } of commandLines())
      if (values.some((value) => args.includes(value))) seen.set(`${pid} ${args}`, pid);
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      // The report names the process, never the secret it carried (it goes to CI logs).
      const redact = (args: string) => values.reduce((text, value) => text.replaceAll(value, '<secret>'), args);
      return [...seen.entries()].map(([line, pid]) => ({
        pid,
        args: redact(line.slice(pid.length + 1)).slice(0, 120),
      }));
    },
  };
}

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

/** The memory cgroup directory of a process (cgroup v1's memory hierarchy, or v2's unified one). */
function memoryCgroup(pid: number): string {
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
  const v1 = lines.find((line) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(line));
  if (v1) return join('/sys/fs/cgroup/memory', v1.split(':')[2]!);
  return join('/sys/fs/cgroup', lines.find((line) => line.startsWith('0::'))!.slice(3));
}

/** Anonymous memory (RSS) of a cgroup and its descendants: v1 total_rss, v2 anon. 0 once it is gone. */
function cgroupAnonymousBytes(dir: string): number {
  try {
    return Number(/^(?:total_rss|anon) (\d+)$/m.exec(readFileSync(join(dir, 'memory.stat'), 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/**
 * Samples, every 2 s, the RSS of the cgroups of some processes (containers' first processes:
 * nested containers are counted with the container whose cgroup they sit below) until `stop`
 * returns the peak of each and of their sum.
 */
export function sampleCgroupMemory(processes: Array<{ name: string; pid: number }>) {
  const groups = processes.map(({ name, pid }) => ({ name, dir: memoryCgroup(pid) }));
  const each = new Map<string, number>();
  let total = 0;
  const sample = () => {
    const now = groups.map(({ name, dir }) => [name, cgroupAnonymousBytes(dir)] as const);
    for (const [name, bytes] of now) each.set(name, Math.max(each.get(name) ?? 0, bytes));
    total = Math.max(
      total,
      now.reduce((sum, [, bytes]) => sum + bytes, 0),
    );
  };
  sample();
  const timer = setInterval(sample, 2000);
  return {
    stop: () => {
      clearInterval(timer);
      sample();
      return { total, each };
    },
  };
}
