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

/** stdin to stdout, line by line: readable on a terminal, the raw lines when redirected. */
export async function prettyLogs(input: Readable, output: Writable & { isTTY?: boolean }): Promise<void> {
  const prettify = output.isTTY ? prettifier(true) : undefined;
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    output.write(`${prettify ? prettyLogLine(line, prettify) : line}\n`);
  }
}
