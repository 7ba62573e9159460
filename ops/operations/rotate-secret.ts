import { readEnvFile, updateEnvFile } from '../../testkit/env-file.ts';
import { CliError, say } from '../lib/log.ts';
import { randomSecret } from '../lib/secrets.ts';

/**
 * The new SESSION_SECRETS list: a fresh secret first (it signs from now on), then the newest
 * `keep - 1` of the current ones (they still verify existing cookies).
 */
export function rotatedSecrets(current: string, fresh: string, keep: number): string[] {
  if (!Number.isInteger(keep) || keep < 2)
    throw new CliError('ROTATE_KEEP must be 2 or more: the previous secret must keep verifying existing cookies', 2);
  const old = current
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (old.length === 0) throw new CliError('SESSION_SECRETS is empty');
  return [fresh, ...old.filter((s) => s !== fresh)].slice(0, keep);
}

/**
 * Prepends a new random session secret in the env file, keeping the previous one, so nobody is
 * logged out: cookies signed with the old secret still verify and are re-signed with the new
 * one. The caller then restarts the service so it reads the new list.
 */
export function rotateSessionSecret(envFile: string, keep: number): void {
  const current = readEnvFile(envFile).SESSION_SECRETS;
  if (!current) throw new CliError(`no SESSION_SECRETS in ${envFile} (make up creates it)`);
  const list = rotatedSecrets(current, randomSecret(), keep);
  updateEnvFile(envFile, { SESSION_SECRETS: list.join(',') });
  const before = current.split(',').filter((s) => s.trim()).length;
  say('rotate-secret', `rotated SESSION_SECRETS in ${envFile}: ${before} -> ${list.length} secrets, newest first`);
}
