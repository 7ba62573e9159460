import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { Ajv } from 'ajv';
import { parseAllDocuments } from 'yaml';
import { run } from '../../testkit/run.ts';
import {
  type Json,
  type Problem,
  asArray,
  asObject,
  at,
  describeSchemaError,
  isObject,
  resourceName,
} from './schema.ts';

/**
 * What kubectl reads: YAML as YAML 1.1, kustomizations within the fields kustomize v2.0.3 (in Debian 12's kubectl
 * 1.20) and v5 read alike, and the objects `kubectl kustomize` renders. What both kustomize versions refuse themselves
 * (missing files, files outside a kustomization's directory, generator files that are not files) is left to rendering.
 */

const name = { type: 'string', pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$', maxLength: 63 };
const paths = { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', minLength: 1 } };
const literals = { type: 'array', items: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_.-]*=' } };
function closed(required: string[], properties: Json) {
  return { type: 'object', additionalProperties: false, required, properties };
}
/**
 * Anything outside the shared subset (patches, labels, components, images) is refused. Directories go under
 * `bases:`: v2.0.3 reads them nowhere else, and v5 still does (with a deprecation warning).
 */
const checkKustomization = new Ajv({ allErrors: true, strict: true }).compile(
  closed(['apiVersion', 'kind'], {
    apiVersion: { const: 'kustomize.config.k8s.io/v1beta1' },
    kind: { const: 'Kustomization' },
    namespace: name,
    bases: paths,
    resources: paths,
    configMapGenerator: {
      type: 'array',
      items: closed(['name'], { name, behavior: { enum: ['create', 'merge', 'replace'] }, literals, files: paths }),
    },
  }),
);

/**
 * Hand-written: where YAML 1.1 (kubectl) and 1.2 read a document differently (on/off, 0440, 1:30, 1_000, <<). The
 * yaml package reads both; yamllint's truthy and octal rules miss the last three.
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
export function parseYaml(text: string, where: string): { docs: unknown[]; problems: Problem[] } {
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

export const listFiles = (root: string, dir: string): string[] =>
  readdirSync(join(root, dir), { recursive: true, withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? [] : [relative(root, join(entry.parentPath, entry.name))]))
    .sort();

const inside = (parent: string, child: string): boolean => child === parent || child.startsWith(parent + sep);

/**
 * Every kustomization under dir, and those outside it that their bases: name (nginx/), against the schema above:
 * their directories, those that others include (bases), and the files they name (resources, and with generators').
 */
export function readKustomizations(root: string, dir: string, problems: Problem[]) {
  const files = new Set(listFiles(root, dir).filter((f) => /^[kK]ustomization(\.ya?ml)?$/.test(basename(f))));
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
    const here = resolve(root, dirname(file));
    for (const field of ['bases', 'resources'] as const) {
      asArray(data[field]).forEach((entry, index) => {
        if (typeof entry !== 'string') return;
        const bad = (message: string) => refuse(`"${entry}" ${message}`, `${field}[${index}]`);
        const [target, isFile] = [resolve(here, entry), field === 'resources'];
        const found = relative(root, target);
        if (/:\/\/|^(github|gitlab)\.com\//.test(entry)) bad('is remote: rendering must work offline');
        else if (isFile && existsSync(target) && statSync(target).isDirectory()) {
          bad('is a directory: it goes under bases: (kustomize v2.0.3)');
        } else if (isFile) [resources, used].forEach((set) => set.add(found));
        else if (!inside(resolve(root), target)) bad('is outside the repository');
        else if (inside(target, here)) bad('contains this kustomization (kustomize refuses the cycle)');
        else if (!existsSync(join(target, 'kustomization.yaml'))) bad('has no kustomization.yaml');
        else {
          bases.add(found);
          files.add(join(found, 'kustomization.yaml'));
        }
      });
    }
    for (const generator of asArray(data.configMapGenerator)) {
      for (const spec of asArray(asObject(generator).files)) {
        if (typeof spec === 'string') used.add(relative(root, resolve(here, spec.slice(spec.indexOf('=') + 1))));
      }
    }
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
