import { isAbsolute, resolve } from 'node:path';

/** The repository root: everything the tooling touches is found from here. */
export const repoRoot = resolve(import.meta.dirname, '..');

/** A path as the user gave it: absolute stays, relative is taken from the repository root. */
export function fromRepo(path: string): string {
  return isAbsolute(path) ? path : resolve(repoRoot, path);
}
