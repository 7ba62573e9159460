import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../testkit/repo.ts';

/**
 * The exact Node.js version the project runs, from .node-version: the one pin. .tools/ (CI and
 * make), the node stand-in image and the Dockerfile's base tag all use it (make lint checks the
 * Dockerfile against it).
 */
export function pinnedNodeVersion(): string {
  const version = readFileSync(join(repoRoot, '.node-version'), 'utf8').trim();
  if (!/^\d+\.\d+\.\d+$/.test(version))
    throw new Error(`.node-version must hold an exact version like 24.22.3, got '${version}'`);
  return version;
}
