/**
 * Output conventions of the tooling: progress and diagnostics go to stderr, prefixed with the
 * component that speaks; stdout is kept for results other programs read (e.g. DOCKER_HOST).
 */
export function say(component: string, message: string): void {
  process.stderr.write(`${component}: ${message}\n`);
}

/** A failure the user can act on: printed without a stack trace, with this exit code. */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}
