import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { Ajv } from 'ajv';
import { parseAllDocuments } from 'yaml';
import { CliError, say } from '../lib/log.ts';
import { run, which } from '../../testkit/run.ts';
import { repoRoot } from '../../testkit/repo.ts';
import { crossChecks } from './references.ts';
import { KUBERNETES_VERSION, type Json, type Problem, asArray, asObject, at, describeSchemaError } from './schema.ts';
import { isObject, resourceName, validateResource } from './schema.ts';

/**
 * Offline validation of the Kubernetes manifests (deploy/k8s), for `make lint` and CI on a fresh Debian 12 machine
 * that reaches only the npm registry and Debian's archive: each resource file against the Kubernetes schemas,
 * unknown fields failing, and only the kinds the project deploys (schema.ts); every kustomization within the
 * fields kustomize v2.0.3 to v5 share, every file under deploy/k8s (and nginx/, which the edge includes) used by
 * one, YAML that 1.1 and 1.2 read alike (below); the base and each example rendered with `kubectl kustomize`, the
 * output checked again, with references, the service's settings and the edge's template variables (references.ts).
 */

/** The manifests, relative to the repository root. */
export const MANIFEST_DIR = 'deploy/k8s';

const name = { type: 'string', pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$', maxLength: 63 };
const paths = { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', minLength: 1 } };
const literals = { type: 'array', items: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_.-]*=' } };
const behavior = { enum: ['create', 'merge', 'replace'] };
function closed(required: string[], properties: Json) {
  return { type: 'object', additionalProperties: false, required, properties };
}
/**
 * The Kustomization fields that kustomize v2.0.3 (in Debian 12's kubectl 1.20) and v5 read alike; anything else
 * (patches, labels, components, images) is refused. Directories go under `bases:`: v2.0.3 reads them nowhere
 * else, and v5 still does (with a deprecation warning).
 */
const checkKustomization = new Ajv({ allErrors: true, strict: true }).compile(
  closed(['apiVersion', 'kind'], {
    apiVersion: { const: 'kustomize.config.k8s.io/v1beta1' },
    kind: { const: 'Kustomization' },
    namespace: name,
    bases: paths,
    resources: paths,
    configMapGenerator: { type: 'array', items: closed(['name'], { name, behavior, literals, files: paths }) },
  }),
);

/**
 * Hand-written: where YAML 1.1 (kubectl) and 1.2 read a document differently (on/off, 0440, 1:30,
 * 1_000, <<). The yaml package reads both; yamllint's truthy and octal rules miss the last three.
 */
function firstDifference(a: unknown, b: unknown, path = ''): string | undefined {
  if (!isObject(a) && !Array.isArray(a)) return JSON.stringify(a) === JSON.stringify(b) ? undefined : path;
  if (!isObject(b) && !Array.isArray(b)) return path;
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const diff = firstDifference((a as Json)[key], (b as Json)[key], at(path, Array.isArray(a) ? Number(key) : key));
    if (diff !== undefined) return diff;
  }
}

/** The documents of a YAML file as kubectl reads them (YAML 1.1), with parse problems. */
function parseYaml(text: string, where: string): { docs: unknown[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const docs12 = parseAllDocuments(text, { version: '1.2', uniqueKeys: true });
  const docs = parseAllDocuments(text, { version: '1.1', uniqueKeys: true }).flatMap((doc, index) => {
    const said = [...doc.errors, ...doc.warnings].map((e) => `YAML: ${e.message.split('\n')[0]}`);
    problems.push(...said.map((message) => ({ where, message })));
    if (doc.errors.length > 0) return [];
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    const path = firstDifference(value, docs12[index]?.toJS({ maxAliasCount: 100 }));
    const message = 'YAML 1.1 (kubectl) and YAML 1.2 read this value differently: quote it';
    if (path !== undefined) problems.push({ where, resource: resourceName(value), path, message });
    return [value];
  });
  return { docs, problems };
}

const listFiles = (root: string, dir: string): string[] =>
  readdirSync(join(root, dir), { recursive: true, withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? [] : [relative(root, join(entry.parentPath, entry.name))]))
    .sort();

const inside = (parent: string, child: string): boolean => child === parent || child.startsWith(parent + sep);

/**
 * Every kustomization under deploy/k8s, and those outside it that their bases: name (nginx/), checked against the
 * schema above and what kustomize would refuse: their directories, the ones they include, the files they name.
 */
function readKustomizations(root: string, problems: Problem[]) {
  const files = new Set(listFiles(root, MANIFEST_DIR).filter((f) => /^[kK]ustomization(\.ya?ml)?$/.test(basename(f))));
  const [bases, resources, used] = [new Set<string>(), new Set<string>(), new Set<string>()];
  for (const file of files) {
    const refuse = (message: string, path?: string) => problems.push({ where: file, path, message });
    if (basename(file) !== 'kustomization.yaml') refuse('name it kustomization.yaml (the one spelling here)');
    const { docs, problems: yamlProblems } = parseYaml(readFileSync(join(root, file), 'utf8'), file);
    const data = asObject(docs[0]);
    checkKustomization(data);
    const schemaProblems = (checkKustomization.errors ?? []).map((e) => ({ where: file, ...describeSchemaError(e) }));
    problems.push(...yamlProblems, ...schemaProblems);
    used.add(file);
    const dir = resolve(root, dirname(file));
    for (const field of ['bases', 'resources'] as const) {
      asArray(data[field]).forEach((entry, index) => {
        if (typeof entry !== 'string') return;
        const bad = (message: string) => refuse(`"${entry}" ${message}`, `${field}[${index}]`);
        const [target, isFile] = [resolve(dir, entry), field === 'resources'];
        const [found, isDir] = [relative(root, target), existsSync(target) && statSync(target).isDirectory()];
        if (/:\/\/|^(github|gitlab)\.com\//.test(entry)) bad('is remote: rendering must work offline');
        else if (!existsSync(target)) bad('does not exist');
        else if (isFile && isDir) bad('is a directory: it goes under bases: (kustomize v2.0.3)');
        else if (isFile && !inside(dir, target)) bad("is outside this kustomization's directory");
        else if (isFile) [resources, used].forEach((set) => set.add(found));
        else if (!existsSync(join(target, 'kustomization.yaml'))) bad('has no kustomization.yaml');
        else if (!inside(resolve(root), target)) bad('is outside the repository');
        else if (inside(target, dir)) bad('contains this kustomization (kustomize refuses the cycle)');
        else {
          bases.add(found);
          files.add(join(found, 'kustomization.yaml'));
        }
      });
    }
    // kustomize loads generator files only in or below the kustomization's directory.
    asArray(data.configMapGenerator).forEach((generator, index) => {
      asArray(asObject(generator).files).forEach((spec, fileIndex) => {
        if (typeof spec !== 'string') return;
        const [source, path] = [spec.slice(spec.indexOf('=') + 1), `configMapGenerator[${index}].files[${fileIndex}]`];
        const target = resolve(dir, source);
        if (!inside(dir, target)) refuse(`"${source}" is outside this kustomization's directory`, path);
        else if (!existsSync(target) || statSync(target).isDirectory()) refuse(`"${source}" is not a file`, path);
        else used.add(relative(root, target));
      });
    });
  }
  return { dirs: [...files].map(dirname), bases, resources, used };
}

/** `kubectl kustomize <dir>`: the objects, or the problems (kustomize's error, YAML). */
export async function render(root: string, dir: string, kubectl: string) {
  const where = `kustomize build ${dir}`;
  const result = await run(kubectl, ['kustomize', join(root, dir)], { allowFailure: true, timeoutMs: 60_000 });
  const { code, stdout, stderr } = result;
  if (code !== 0) {
    // kustomize v5's warnings (bases: is deprecated), kubectl's klog prefix and the root say nothing here.
    const said = (stderr.replace(/^# Warning: .*\n/gm, '').trim() || stdout.trim()).split(root + sep).join('');
    const message = `failed: ${said.replace(/^E\d{4} [\d:.]+\s+\d+ \S+\] "command failed" err=/, '')}`;
    return { where, docs: [], problems: [{ where, message }] };
  }
  const { docs, problems } = parseYaml(stdout, where);
  return { where, docs: docs.filter(isObject), problems };
}

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
  const [problems, seen] = [[] as Problem[], new Set<string>()];
  // A resource's problem is reported once: for its file, not again for each rendering it is in.
  const add = (...list: Problem[]) => {
    for (const p of list) {
      const key = [p.resource, p.path, p.message].join('\0');
      if (!p.resource || !seen.has(key)) problems.push(p);
      seen.add(key);
    }
  };
  const [copy, source] = [join(root, COPY), join(root, SOURCE)];
  if (!existsSync(copy) || !existsSync(source) || !readFileSync(copy).equals(readFileSync(source))) {
    add({ where: COPY, message: `differs from ${SOURCE}: cp ${SOURCE} ${COPY}` });
  }
  const { dirs, bases, resources, used } = readKustomizations(root, problems);
  if (!dirs.includes(MANIFEST_DIR)) add({ where: MANIFEST_DIR, message: 'no kustomization.yaml' });

  let objects = 0;
  const outside = dirs.filter((dir) => relative(MANIFEST_DIR, dir).startsWith('..'));
  for (const file of [MANIFEST_DIR, ...outside].flatMap((dir) => listFiles(root, dir))) {
    const read = () => parseYaml(readFileSync(join(root, file), 'utf8'), file);
    const unused = `no ${/\.ya?ml$/.test(file) ? 'kustomization.yaml lists' : 'configMapGenerator uses'} this file`;
    if (NOT_MANIFESTS.includes(relative(MANIFEST_DIR, file))) add(...read().problems);
    else if (!used.has(file) && basename(file) !== 'README.md') add({ where: file, message: unused });
    else if (resources.has(file)) {
      const { docs, problems: yamlProblems } = read();
      add(...yamlProblems);
      for (const doc of docs.filter((d) => d !== null)) add(...(await validateResource(doc, file)));
      objects += docs.filter((d) => d !== null).length;
    }
  }

  const kubectl = options.kubectl === undefined ? process.env.KUBECTL || which('kubectl') : options.kubectl;
  const install = 'apt-get install kubernetes-client, or set KUBECTL';
  if (kubectl === undefined) add({ where: MANIFEST_DIR, message: `kubectl not found: ${install}` });
  // Every kustomization no other one includes, the base first: a problem it shares with an example is its own.
  const tops = kubectl ? dirs.filter((dir) => !bases.has(dir)).sort() : [];
  for (const { where, docs, problems } of await Promise.all(tops.map((dir) => render(root, dir, kubectl!)))) {
    add(...problems);
    for (const doc of docs) add(...(await validateResource(doc, where)));
    add(...crossChecks(docs, where));
  }
  const list = problems.map((p) => `\n  - ${[p.where, p.resource, p.path, p.message].filter(Boolean).join(': ')}`);
  if (problems.length > 0) throw new CliError(`${MANIFEST_DIR}: ${problems.length} problem(s):${list.join('')}`);
  if (kubectl) {
    // kubectl says its kustomize since 1.24; Debian 12's 1.20 (package kubernetes-client) embeds v2.0.3.
    const version = await run(kubectl, ['version', '--client', '-ojson'], { allowFailure: true, timeoutMs: 30_000 });
    const kustomize = /"kustomizeVersion":\s*"([^"]+)"/.exec(version.stdout)?.[1] ?? 'of kubectl < 1.24 (v2.0.3)';
    options.report?.(`rendered ${tops.join(', ')} with kustomize ${kustomize}`);
  }
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
