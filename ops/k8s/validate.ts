import { existsSync, readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { CliError, say } from '../lib/log.ts';
import { repoRoot } from '../../testkit/repo.ts';
import { listFiles, parseYaml, readKustomizations, render } from './kustomize.ts';
import { crossChecks } from './references.ts';
import { KUBERNETES_VERSION, type Problem, validateResource } from './schema.ts';

/**
 * Offline validation of the Kubernetes manifests (deploy/k8s), for `make lint` and CI on a fresh Debian 12 machine
 * that reaches only the npm registry and Debian's archive: every resource file against the schemas (schema.ts), the
 * kustomizations and the YAML as kubectl reads them (kustomize.ts), every file under deploy/k8s (and nginx/, which
 * the edge includes) used; then the base and each example rendered, checked again and across objects (references.ts).
 */

/** The manifests, relative to the repository root. */
export const MANIFEST_DIR = 'deploy/k8s';
/** YAML under deploy/k8s that is not a manifest (Helm values): parsed, not schema-checked. */
const NOT_MANIFESTS = ['examples/redis-sentinel/values.yaml', 'examples/ingress-nginx/controller-values.yaml'];
/**
 * deploy/redis.conf's directory contains deploy/k8s, and kustomize refuses a base that contains the kustomization:
 * the redis-single example generates its ConfigMap from a copy that must stay equal.
 */
const [COPY, SOURCE] = ['deploy/k8s/examples/redis-single/redis.conf', 'deploy/redis.conf'];

/** root: the repository (tests point it at a copy); kubectl: default KUBECTL, else on PATH; null: no rendering. */
type Options = { root?: string; kubectl?: string | null; report?: (line: string) => void };

/** Validates deploy/k8s (the top of this file); throws a CliError listing every problem, one a line. */
export async function validateKubernetesManifests(options: Options = {}): Promise<void> {
  const root = options.root ?? repoRoot;
  const problems: Problem[] = [];
  const [copy, source] = [join(root, COPY), join(root, SOURCE)];
  if (!existsSync(copy) || !existsSync(source) || !readFileSync(copy).equals(readFileSync(source))) {
    problems.push({ where: COPY, message: `differs from ${SOURCE}: cp ${SOURCE} ${COPY}` });
  }
  const { dirs, bases, resources, used } = readKustomizations(root, MANIFEST_DIR, problems);
  if (!dirs.includes(MANIFEST_DIR)) problems.push({ where: MANIFEST_DIR, message: 'no kustomization.yaml' });
  const validate = async (docs: unknown[], where: string) =>
    (await Promise.all(docs.map((doc) => validateResource(doc, where)))).flat();

  let objects = 0;
  const outside = dirs.filter((dir) => relative(MANIFEST_DIR, dir).startsWith('..'));
  for (const file of [MANIFEST_DIR, ...outside].flatMap((dir) => listFiles(root, dir))) {
    const read = () => parseYaml(readFileSync(join(root, file), 'utf8'), file);
    const unused = `no ${/\.ya?ml$/.test(file) ? 'kustomization.yaml lists' : 'configMapGenerator uses'} this file`;
    if (NOT_MANIFESTS.includes(relative(MANIFEST_DIR, file))) problems.push(...read().problems);
    else if (!used.has(file) && basename(file) !== 'README.md') problems.push({ where: file, message: unused });
    else if (resources.has(file)) {
      const { docs, problems: said } = read();
      const present = docs.filter((d) => d !== null);
      objects += present.length;
      problems.push(...said, ...(await validate(present, file)));
    }
  }

  // Every kustomization no other one includes, the base first: a problem it shares with an example is its own.
  const kubectl = options.kubectl === undefined ? process.env.KUBECTL || 'kubectl' : options.kubectl;
  const tops = kubectl ? dirs.filter((dir) => !bases.has(dir)).sort() : [];
  const fromFiles = problems.length;
  for (const { where, docs, problems: said } of await Promise.all(tops.map((dir) => render(root, dir, kubectl!)))) {
    problems.push(...said, ...(await validate(docs, where)), ...crossChecks(docs, where));
  }
  // A resource's problem is reported once: for its file, not again for each rendering it is in.
  const same = (p: Problem, q: Problem) => p.resource === q.resource && p.path === q.path && p.message === q.message;
  const unique = problems.filter((p, i) => i < fromFiles || !p.resource || problems.findIndex((q) => same(p, q)) === i);
  const list = unique.map((p) => `\n  - ${[p.where, p.resource, p.path, p.message].filter(Boolean).join(': ')}`);
  if (unique.length > 0) throw new CliError(`${MANIFEST_DIR}: ${unique.length} problem(s):${list.join('')}`);
  if (kubectl) options.report?.(`rendered ${tops.join(', ')} with ${kubectl} kustomize`);
  options.report?.(`ok: ${objects} objects, ${dirs.length} kustomizations (Kubernetes ${KUBERNETES_VERSION} schemas)`);
}

if (import.meta.main) {
  try {
    if (process.argv.length > 2) throw new CliError('usage: node ops/k8s/validate.ts (no arguments)', 2);
    await validateKubernetesManifests({ report: (line) => say('k8s', line) });
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = error instanceof CliError ? error.exitCode : 1;
  }
}
