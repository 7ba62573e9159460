import { say } from './log.ts';

/** Timed phases with a closing table: CI prints how long each step took. */
export class Phases {
  private readonly done: Array<{ name: string; seconds: number; ok: boolean }> = [];
  private readonly started = Date.now();
  private readonly title: string;

  constructor(title: string) {
    this.title = title;
  }

  async run<T>(name: string, step: () => Promise<T>): Promise<T> {
    const start = Date.now();
    process.stderr.write(`\n==================== phase: ${name} (${new Date().toISOString().slice(11, 19)} UTC)\n`);
    let ok = false;
    try {
      const value = await step();
      ok = true;
      return value;
    } finally {
      const seconds = Math.round((Date.now() - start) / 1000);
      this.done.push({ name, seconds, ok });
      say('phase', `${ok ? 'done' : 'FAILED'}: ${name} in ${seconds}s`);
    }
  }

  table(): string {
    const width = Math.max(20, ...this.done.map((p) => p.name.length + 9));
    const row = (label: string, seconds: number) => `  ${label.padEnd(width)} ${String(seconds).padStart(5)}s`;
    return [
      `\n==================== ${this.title} phase timings`,
      ...this.done.map((p) => row(`${p.name}${p.ok ? '' : ' (FAILED)'}`, p.seconds)),
      row('total', Math.round((Date.now() - this.started) / 1000)),
    ].join('\n');
  }
}
