import { CONFIG_KEYS, SECRET_KEYS, configIssues } from '../../service/src/config/config.ts';
import { readEnvFile } from '../../testkit/env-file.ts';
import { CliError, say } from './log.ts';
import { redisConfString, writeSecretFiles } from './secrets.ts';

export type SecretKey = (typeof SECRET_KEYS)[number];

type SecretFiles = Record<SecretKey, string>;
/** The secret file names (session_secrets, ...), the same for both stacks (compose secrets, native RUN_DIR/secrets). */
export const SECRET_FILES = Object.fromEntries(SECRET_KEYS.map((key) => [key, key.toLowerCase()])) as SecretFiles;

/**
 * The forward-auth access rules a stack gives the service when .env names none: the demo app
 * at https://localhost/demo/ for the admin and the group `demo` (docs/forward-auth.md).
 */
export const DEFAULT_ACCESS_RULES = 'deploy/access-rules.json';

export interface ServiceEnv {
  /** Every non-secret setting of the service's config schema that .env sets: plain environment. */
  settings: Record<string, string>;
  /** The secrets .env sets: they travel as files (NAME_FILE), never as environment or argv. */
  secrets: Partial<Record<SecretKey, string>>;
  /** Keys .env sets that the stack decides itself (e.g. PORT): not passed, reported. */
  overridden: string[];
}

/**
 * Splits .env into what the service gets. Any key of the service's config schema reaches it
 * (so a setting works the same natively and under Docker); keys the stack owns (listen
 * address, Redis URL, proxy trust) are its own and win; everything else in .env (stack
 * settings such as HTTPS_PORT) is not the service's business.
 */
export function serviceEnvFrom(dotenv: Record<string, string>, stackOwned: readonly string[]): ServiceEnv {
  const secretKeys = new Set<string>(SECRET_KEYS);
  const result: ServiceEnv = { settings: {}, secrets: {}, overridden: [] };
  for (const key of CONFIG_KEYS) {
    const value = dotenv[key];
    if (value === undefined || value === '') continue;
    if (secretKeys.has(key)) result.secrets[key as SecretKey] = value;
    else if (stackOwned.includes(key)) result.overridden.push(key);
    else result.settings[key] = value;
  }
  return result;
}

/**
 * Checks the configuration the service will start with, before anything is started or built:
 * the same schema, so a bad .env fails here with the key named, not in a container's log.
 */
export function assertValidServiceConfig(env: Record<string, string | undefined>, envFile: string): void {
  const issues = configIssues(env);
  if (issues.length > 0)
    throw new CliError(`${envFile}: the service would refuse this configuration:\n  - ${issues.join('\n  - ')}`, 78);
}

/**
 * A container stack's share of .env (compose, swarm): the service's settings, checked with its
 * schema together with what the stack decides (`decides`), and its secrets written as files into
 * `secretsDir` (never environment), with redis_requirepass.conf for the Redis containers.
 */
export function containerServiceEnv(
  envFile: string,
  stack: {
    owned: readonly string[];
    ownedBy: string;
    decides: Record<string, string>;
    secretsDir: string;
    mode: number;
  },
): ServiceEnv {
  const { settings, secrets, overridden } = serviceEnvFrom(readEnvFile(envFile), stack.owned);
  for (const key of overridden) say('stack', `${key} in ${envFile} is not used: ${stack.ownedBy} sets it`);
  assertValidServiceConfig({ ...settings, ...secrets, ...stack.decides }, envFile);
  const empty = (Object.keys(SECRET_FILES) as SecretKey[]).find((key) => !secrets[key]);
  if (empty) throw new CliError(`${empty} is empty: set it in ${envFile} (make env creates a complete one)`);
  const files: Record<string, string> = {
    'redis_requirepass.conf': `requirepass ${redisConfString(secrets.REDIS_PASSWORD!)}`,
  };
  for (const [key, value] of Object.entries(secrets)) files[SECRET_FILES[key as SecretKey]] = value;
  writeSecretFiles(stack.secretsDir, files, stack.mode);
  return { settings, secrets, overridden };
}
