import { existsSync, readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { CliError, say } from '../lib/log.ts';
import { which } from '../lib/run.ts';
import { repoRoot } from '../../testkit/repo.ts';
import { MANIFEST_DIR, kustomizeVersion, listFiles, parseYaml, readKustomizations, render } from './kustomize.ts';
import { crossChecks } from './references.ts';
import { KUBERNETES_VERSION, type Problem, validateResource } from './schema.ts';

/**
 * Offline validation of the Kubernetes manifests (deploy/k8s), for `make lint` and CI: a fresh
 * Debian 12 machine that reaches only the npm registry and Debian's archive.
 *   - each resource file against the Kubernetes 1.36 schemas, unknown fields failing, and only
 *     the kinds the project deploys (schema.ts);
 *   - every kustomization within the fields kustomize v2.0.3 to v5 share, and every file under
 *     deploy/k8s (and nginx/, whose kustomization.yaml the edge includes) used by one; YAML that
 *     kubectl (1.1) and YAML 1.2 tools read alike (kustomize.ts);
 *   - the base and each example rendered with `kubectl kustomize` (KUBECTL, else kubectl on
 *     PATH), the output checked again, with the references between its objects, the service's
 *     configuration schema and the edge's template variables (references.ts).
 */

export { MANIFEST_DIR } from './kustomize.ts';
export { OPERATOR_SECRETS } from './references.ts';
export { type Problem, validateResource } from './schema.ts';

/** YAML under deploy/k8s that is not a manifest (Helm values): parsed, not schema-checked. */
const NOT_MANIFESTS = new Set(['examples/redis-sentinel/values.yaml', 'examples/ingress-nginx/controller-values.yaml']);

/**
 * Hand-written: the one copy left. deploy/redis.conf's directory contains deploy/k8s, and
 * kustomize refuses a base that contains the kustomization, so the redis-single example
 * generates its ConfigMap from a copy that must stay equal to the source.
 */
const COPIES: Readonly<Record<string, string>> = { 'deploy/k8s/examples/redis-single/redis.conf': 'deploy/redis.conf' };

export const formatProblem = (p: Problem): string => [p.where, p.resource, p.path, p.message].filter(Boolean).join(': ');

/** Every problem found, one per line (file, kind/name, JSON path, message). */
export class ManifestError extends CliError {
  readonly problems: readonly Problem[];

  constructor(problems: Problem[]) {
    const count = `${problems.length} problem${problems.length === 1 ? '' : 's'}`;
    super(`Kubernetes manifests (${MANIFEST_DIR}): ${count}:\n  - ${problems.map(formatProblem).join('\n  - ')}`);
    this.name = 'ManifestError';
    this.problems = problems;
  }
}

export interface ValidateOptions {
  /** The repository root (tests point it at a copy). */
  root?: string;
  /** kubectl for rendering; default KUBECTL or kubectl on PATH. null: do not render (static checks only). */
  kubectl?: string | null;
  /** Progress lines (the CLI passes say). */
  report?: (message: string) => void;
}

/** The kubectl to render with: the option, else KUBECTL, else kubectl on PATH. */
export function findKubectl(option?: string | null): string | null | undefined {
  if (option !== undefined) return option;
  return process.env.KUBECTL || which('kubectl');
}

/**
 * Validates deploy/k8s (see the top of this file); throws a ManifestError listing every problem
 * (file or rendering, kind/name, JSON path, message).
 */
export async function validateKubernetesManifests(options: ValidateOptions = {}): Promise<void> {
  const root = options.root ?? repoRoot;
  const problems: Problem[] = [];
  const seen = new Set<string>();
  // A resource's problem is reported once: for its file, not again for each rendering it is in.
  const add = (list: Problem[]) => {
    for (const p of list) {
      const key = [p.resource, p.path, p.message].join('\0');
      if (!p.resource || !seen.has(key)) problems.push(p);
      seen.add(key);
    }
  };
  for (const [copy, source] of Object.entries(COPIES)) {
    const [a, b] = [join(root, copy), join(root, source)];
    const same = existsSync(a) && existsSync(b) && readFileSync(a).equals(readFileSync(b));
    if (!same) add([{ where: copy, message: `differs from ${source}: cp ${source} ${copy}` }]);
  }
  const used = new Set<string>();
  const kustomizations = readKustomizations(root, problems, used);
  if (!kustomizations.some((k) => k.dir === MANIFEST_DIR)) add([{ where: MANIFEST_DIR, message: 'no kustomization.yaml' }]);

  let resources = 0;
  const outside = kustomizations.map((k) => k.dir).filter((dir) => relative(MANIFEST_DIR, dir).startsWith('..'));
  for (const file of [MANIFEST_DIR, ...outside].flatMap((dir) => listFiles(root, dir))) {
    const yaml = /\.ya?ml$/.test(file);
    const read = () => parseYaml(readFileSync(join(root, file), 'utf8'), file);
    if (yaml && NOT_MANIFESTS.has(relative(MANIFEST_DIR, file))) add(read().problems);
    else if (!used.has(file) && basename(file) !== 'README.md') {
      const message = yaml ? 'no kustomization.yaml lists this file' : 'no configMapGenerator uses this file';
      add([{ where: file, message }]);
    } else if (kustomizations.some((k) => k.files.includes(file))) {
      const { docs, problems: yamlProblems } = read();
      add(yamlProblems);
      for (const doc of docs.filter((d) => d !== null)) {
        resources++;
        add(await validateResource(doc, file));
      }
    }
  }

  const kubectl = findKubectl(options.kubectl);
  let summary = `${resources} resources, ${kustomizations.length} kustomizations, Kubernetes ${KUBERNETES_VERSION} schemas`;
  if (kubectl === undefined) {
    const message = 'kubectl not found: rendering needs it (apt-get install kubernetes-client, or KUBECTL=/path/to/kubectl)';
    add([{ where: MANIFEST_DIR, message }]);
  } else if (kubectl !== null) {
    // Every kustomization no other one includes, the base first: a problem it shares with the
    // examples is reported for the base.
    const included = new Set(kustomizations.flatMap((k) => k.bases));
    const tops = kustomizations
      .map((k) => k.dir)
      .filter((dir) => !included.has(dir))
      .sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b));
    const version = kustomizeVersion(kubectl);
    const renderings = await Promise.all(tops.map((dir) => render(root, dir, kubectl)));
    for (const [index, rendering] of renderings.entries()) {
      const where = `kustomize build ${tops[index]}`;
      add(rendering.problems);
      for (const doc of rendering.docs) add(await validateResource(doc, where));
      add(crossChecks(rendering.docs, where));
    }
    options.report?.(`rendered ${tops.join(', ')} with kustomize ${await version}`);
    summary += `; ${tops.length} renderings, with references, the service's settings and the edge's template variables`;
  }
  if (problems.length > 0) throw new ManifestError(problems);
  options.report?.(`ok: ${summary}`);
}

const USAGE = `usage: node ops/k8s/validate.ts

Validates ${MANIFEST_DIR} offline against the Kubernetes ${KUBERNETES_VERSION} schemas (unknown fields fail),
renders every top-level kustomization with kubectl kustomize (KUBECTL, else kubectl on PATH;
Debian: apt-get install kubernetes-client) and checks the output again.`;

if (import.meta.main) {
  const started = performance.now();
  const args = process.argv.slice(2);
  try {
    if (args.includes('--help') || args.includes('-h')) process.stdout.write(`${USAGE}\n`);
    else if (args.length > 0) throw new CliError(`unknown argument ${args.join(' ')}\n${USAGE}`, 2);
    else {
      await validateKubernetesManifests({ report: (message) => say('k8s', message) });
      say('k8s', `done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = error instanceof CliError ? error.exitCode : 1;
  }
}
