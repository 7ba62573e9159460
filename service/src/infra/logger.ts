import pino, { type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * Paths never written to logs. Cookies and Authorization carry session ids and tokens;
 * any password field anywhere in a logged object is replaced.
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
  'body.password',
];

/** JSON lines to the given stream (stdout by default); the log shipper parses them. */
export function createLogger(level: LoggerOptions['level'], destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'authstack' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
