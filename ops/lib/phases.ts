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
    try {
      const value = await step();
      this.record(name, start, true);
      return value;
    } catch (error) {
      this.record(name, start, false);
      throw error;
    }
  }

  private record(name: string, start: number, ok: boolean): void {
    const seconds = Math.round((Date.now() - start) / 1000);
    this.done.push({ name, seconds, ok });
    say('phase', `${ok ? 'done' : 'FAILED'}: ${name} in ${seconds}s`);
  }

  table(): string {
    const width = Math.max(20, ...this.done.map((p) => p.name.length + 9));
    const rows = this.done.map(
      (p) => `  ${`${p.name}${p.ok ? '' : ' (FAILED)'}`.padEnd(width)} ${String(p.seconds).padStart(5)}s`,
    );
    return [
      `\n==================== ${this.title} phase timings`,
      ...rows,
      `  ${'total'.padEnd(width)} ${String(Math.round((Date.now() - this.started) / 1000)).padStart(5)}s`,
    ].join('\n');
  }
}
