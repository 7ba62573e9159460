import { readFileSync, readdirSync } from 'node:fs';

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
export function watchCommandLines(secrets: readonly string[], intervalMs = 5): { stop(): Array<{ pid: string; args: string }> } {
  const values = secrets.filter((value) => value.length >= 8);
  const seen = new Map<string, string>();
  const sample = () => {
    for (const { pid, args } of commandLines()) if (values.some((value) => args.includes(value))) seen.set(`${pid} ${args}`, pid);
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return [...seen.entries()].map(([line, pid]) => ({ pid, args: line.slice(pid.length + 1).slice(0, 120) }));
    },
  };
}
