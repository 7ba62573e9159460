/**
 * Output conventions of the tooling: progress and diagnostics go to stderr, prefixed with the
 * component that speaks; stdout is kept for results other programs read (e.g. DOCKER_HOST).
 */
export function say(component: string, message: string): void {
  process.stderr.write(`${component}: ${message}\n`);
}

/** A failure the user can act on (defined with the process helpers in testkit/run.ts, which throw it). */
export { CliError } from '../../testkit/run.ts';
