import { chmodSync, existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseEnv } from 'node:util';

/**
 * The one reader of .env files, for the tooling, the stacks and the smoke tests: Node's own
 * dotenv parser (util.parseEnv: comments, blank lines, quotes, CRLF, `export KEY=`), never a
 * hand-written one. A missing file reads as empty.
 */
export function readEnvFile(path: string): Record<string, string> {
  if (!existsSync(path)) return {};
  return parseEnv(readFileSync(path, 'utf8')) as Record<string, string>;
}

/** KEY=value lines under a comment saying who wrote them and from what. */
export function envFileText(comment: string, vars: Record<string, string>): string {
  return `# ${comment}\n${Object.entries(vars)
    .map(([key, value]) => `${key}=${value}`)
    .join('\n')}\n`;
}

/** One value, or undefined when the key is missing or empty. */
export function envValue(path: string, key: string): string | undefined {
  const value = readEnvFile(path)[key];
  return value ? value : undefined;
}

/**
 * Sets keys in an env file and leaves every other line as it was: the first `KEY=` line of each
 * key is replaced (later duplicates dropped, so the value written is the value read), missing
 * keys are appended. Written to a temporary file with the same mode and renamed over the
 * original, so a reader never sees half a file. Values must be plain (no quotes, spaces, #).
 */
export function updateEnvFile(path: string, updates: Record<string, string>): void {
  for (const [key, value] of Object.entries(updates)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key) || /[\s"'#\\]/.test(value))
      throw new Error(`updateEnvFile: refusing ${key}=${JSON.stringify(value)}`);
  }
  const original = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const written = new Set<string>();
  const lines = original.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const out: string[] = [];
  for (const line of lines) {
    const key = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=/.exec(line)?.[1];
    if (key !== undefined && key in updates) {
      if (!written.has(key)) out.push(`${key}=${updates[key]}`);
      written.add(key);
      continue;
    }
    out.push(line);
  }
  for (const [key, value] of Object.entries(updates)) if (!written.has(key)) out.push(`${key}=${value}`);
  const mode = existsSync(path) ? statSync(path).mode & 0o777 : 0o600;
  const tmp = join(dirname(path), `.${Date.now()}.${process.pid}.env.tmp`);
  writeFileSync(tmp, `${out.join('\n')}\n`, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}
