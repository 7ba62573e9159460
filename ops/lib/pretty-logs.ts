import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { prettyFactory } from 'pino-pretty';

/**
 * `make logs` on a terminal: the service's JSON lines (pino) become readable, coloured lines
 * through pino-pretty; everything else (nginx, Redis, compose's own messages) passes unchanged.
 * Compose prefixes each line with its container (`service_1  | {...}`); the prefix is kept.
 * The service itself always writes JSON: this is only how a person reads it.
 */
export function prettyLogLine(line: string, prettify: (value: object) => string): string {
  const match = /^([^{]*?\|\s?)?(\{.*\})\s*$/.exec(line);
  if (!match) return line;
  let value: unknown;
  try {
    value = JSON.parse(match[2]!);
  } catch {
    return line;
  }
  // pino's shape (this service's logger: a level label and an ISO time); nginx's JSON access
  // lines have neither and stay as they are.
  if (typeof value !== 'object' || value === null || !('level' in value) || !('time' in value)) return line;
  return `${match[1] ?? ''}${prettify(value).trimEnd()}`;
}

export function prettifier(colorize: boolean): (value: object) => string {
  return prettyFactory({ colorize, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' });
}

/**
 * What a line may show on a terminal. Control characters a client put in a logged field (a
 * User-Agent, a URL) must not reach it raw: C1 ones such as U+009B (CSI) start escape sequences
 * as ESC does. pino-pretty strips them from the message but prints the fields as JSON
 * (singleLine), which escapes C0 but not C1, and colours with ESC sequences of its own: so C1
 * is escaped on every line, C0 (but tab) on lines passed through as they came. Each is shown as
 * \u00XX, so what was sent stays visible.
 */
export function terminalSafe(line: string, prettified: boolean): string {
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  const controls = prettified ? /[\u0080-\u009f]/g : /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g;
  return line.replace(controls, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** stdin to stdout, line by line: readable (and safe) on a terminal, the raw lines when redirected. */
export async function prettyLogs(input: Readable, output: Writable & { isTTY?: boolean }): Promise<void> {
  const prettify = output.isTTY ? prettifier(true) : undefined;
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    const shown = prettify ? prettyLogLine(line, prettify) : line;
    output.write(`${prettify ? terminalSafe(shown, shown !== line) : line}\n`);
  }
}
