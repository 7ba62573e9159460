import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../testkit/repo.ts';
import { say } from './log.ts';
import { run } from '../../testkit/run.ts';

/** Installs dependencies and builds dist/ when missing or older than the sources. */
export async function buildIfStale(): Promise<void> {
  if (!existsSync(join(repoRoot, 'node_modules/.package-lock.json'))) {
    say('build', 'installing npm dependencies (npm ci)');
    await run('npm', ['ci', '--no-audit', '--no-fund'], { cwd: repoRoot, stdio: 'inherit' });
  }
  const built = join(repoRoot, 'dist/server.js');
  if (
    !existsSync(built) ||
    newerThan(built, ['service/src', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'])
  ) {
    say('build', 'building the service (npm run build)');
    await run('npm', ['run', 'build', '--silent'], { cwd: repoRoot, stdio: 'inherit' });
  }
}

function newerThan(file: string, sources: string[]): boolean {
  const since = statSync(file).mtimeMs;
  const walk = (path: string): boolean => {
    const stat = statSync(path);
    if (stat.isDirectory()) return readdirSync(path).some((name) => walk(join(path, name)));
    return stat.mtimeMs > since;
  };
  return sources.map((s) => join(repoRoot, s)).some((s) => existsSync(s) && walk(s));
}
