import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** 32 random bytes as URL-safe base64 (43 characters): above the 32-character minimum. */
export function randomSecret(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Writes secret files into a 0700 directory, each replaced atomically (a new inode, so a
 * process that has one open keeps the value it read). `mode` is 0600 for files read by the
 * owner (the native stack); compose bind-mounts them into containers whose users differ, so
 * the Docker stack uses 0444 inside the 0700 directory: only the owner can reach them on the host.
 */
export function writeSecretFiles(dir: string, secrets: Record<string, string>, mode = 0o600): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  for (const [name, value] of Object.entries(secrets)) {
    if (!value) throw new Error(`secret ${name} is empty`);
    const tmp = join(dir, `.${name}.${process.pid}.tmp`);
    writeFileSync(tmp, value, { mode });
    chmodSync(tmp, mode);
    renameSync(tmp, join(dir, name));
  }
}

/** A value as redis.conf reads it: a double-quoted string with \ and " escaped. */
export function redisConfString(value: string): string {
  return `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}
