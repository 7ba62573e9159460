import pino, { type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * Paths never written to logs. Cookies and Authorization carry session ids and tokens; any
 * password field at the top level or one object down is replaced. (Nothing here logs request
 * bodies or headers anyway: a request's line keeps id, method, url and user agent.)
 */
export const REDACT_PATHS = [
  'req.headers.cookie',
  'req.headers.authorization',
  'res.headers["set-cookie"]',
  'password',
  'currentPassword',
  'newPassword',
  '*.password',
  '*.currentPassword',
  '*.newPassword',
];

/** How long a log line may wait in the buffer before it is written. */
const FLUSH_INTERVAL_MS = 1000;

/**
 * JSON lines to the given stream, or to stdout through a buffered asynchronous writer: one
 * write(2) per few kilobytes instead of one per line (a line per request made the socket writes
 * the largest single cost of a signed-in read). Lines reach stdout within a second; pino
 * flushes the rest at exit.
 */
export function createLogger(level: LoggerOptions['level'], destination?: pino.DestinationStream): Logger {
  let stream = destination;
  if (!stream) {
    const stdout = pino.destination({ dest: 1, sync: false, minLength: 4096 });
    setInterval(() => stdout.flush(), FLUSH_INTERVAL_MS).unref();
    stream = stdout;
  }
  return pino(
    {
      level,
      base: { service: 'authstack' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    stream,
  );
}
