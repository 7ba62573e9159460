import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

/**
 * Files the Kubernetes manifests carry as copies of the project's one source of truth.
 *
 * kustomize reads generator files only from inside the kustomization's directory (its load
 * restrictor refuses `../../nginx/nginx.conf`, and symlinks that leave the directory too), and
 * `kubectl apply -k` cannot lift that restriction. So the edge's ConfigMaps are generated from
 * a copy of nginx/ under deploy/k8s/edge/nginx/, and the single-Redis example from a copy of
 * deploy/redis.conf. The copies must stay byte-for-byte equal to their sources: the validator
 * reports any drift, and `node ops/k8s/validate.ts --sync` refreshes them.
 */
export const MIRRORS: ReadonlyArray<{ source: string; copy: string }> = [
  { source: 'nginx', copy: 'deploy/k8s/edge/nginx' },
  { source: 'deploy/redis.conf', copy: 'deploy/k8s/examples/redis-single/redis.conf' },
];

/** Every file under a path (the path itself when it is a file), relative to it, sorted. */
function filesOf(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [''];
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? walk(join(dir, entry.name)) : [relative(path, join(dir, entry.name))]));
  return walk(path).sort();
}

/** One message per copy that is missing, stale or extra. */
export function mirrorDrift(root: string): string[] {
  const problems: string[] = [];
  for (const { source, copy } of MIRRORS) {
    const sourceFiles = filesOf(join(root, source));
    const copyFiles = new Set(filesOf(join(root, copy)));
    if (sourceFiles.length === 0) problems.push(`${source}: the source of ${copy} is missing`);
    for (const file of sourceFiles) {
      const from = join(source, file);
      const to = join(copy, file);
      if (!copyFiles.has(file)) problems.push(`${to}: missing copy of ${from}`);
      else if (!readFileSync(join(root, from)).equals(readFileSync(join(root, to)))) problems.push(`${to}: differs from ${from}`);
      copyFiles.delete(file);
    }
    for (const file of copyFiles) problems.push(`${join(copy, file)}: ${join(source, file)} no longer exists`);
  }
  return problems.map((p) => `${p} (node ops/k8s/validate.ts --sync refreshes the copies)`);
}

/** Makes every copy equal to its source (extra files in a copied directory are removed). */
export function syncMirrors(root: string): string[] {
  const written: string[] = [];
  for (const { source, copy } of MIRRORS) {
    const sourceFiles = filesOf(join(root, source));
    const keep = new Set(sourceFiles);
    for (const file of filesOf(join(root, copy))) if (!keep.has(file)) rmSync(join(root, copy, file));
    for (const file of sourceFiles) {
      const from = join(root, source, file);
      const to = join(root, copy, file);
      if (existsSync(to) && readFileSync(from).equals(readFileSync(to))) continue;
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(from, to);
      written.push(relative(root, to));
    }
  }
  return written;
}
