import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { Ajv } from 'ajv';
import { parseAllDocuments } from 'yaml';
import { run } from '../lib/run.ts';
import { type Json, type Problem, asArray, asObject, describeSchemaError, formatPath, isObject } from './schema.ts';
import { resourceName } from './schema.ts';

/**
 * Reading and rendering the kustomizations. kustomize renders, through `kubectl kustomize`: on a
 * fresh Debian 12 machine kubernetes-client's kubectl 1.20 (kustomize v2.0.3), or any newer one.
 */

/** The manifests, relative to the repository root. */
export const MANIFEST_DIR = 'deploy/k8s';

const name = { type: 'string', pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$', maxLength: 63 };
const paths = { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', minLength: 1 } };
const literals = { type: 'array', items: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_.-]*=' } };

/**
 * The Kustomization fields the manifests use, each read alike by kustomize v2.0.3 and v5; anything
 * else (patches, labels, components, images) is refused, so Debian's kubectl can render them.
 * Directories go under `bases:`: v2.0.3 reads them nowhere else, and v5 still does (with a
 * deprecation warning), so no rewriting is needed for either.
 */
const checkKustomization = new Ajv({ allErrors: true, strict: true }).compile({
  type: 'object',
  additionalProperties: false,
  required: ['apiVersion', 'kind'],
  properties: {
    apiVersion: { const: 'kustomize.config.k8s.io/v1beta1' },
    kind: { const: 'Kustomization' },
    namespace: name,
    bases: paths,
    resources: paths,
    configMapGenerator: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: { name, behavior: { enum: ['create', 'merge', 'replace'] }, literals, files: paths },
      },
    },
  },
});

type Segment = string | number;

/**
 * Hand-written: where YAML 1.1 (kubectl) and 1.2 read a document differently (on/off, 0440, 1:30,
 * 1_000, <<). The yaml package reads both; yamllint's truthy and octal rules miss the last three.
 */
function firstDifference(a: unknown, b: unknown, path: Segment[] = []): Segment[] | undefined {
  if (!(isObject(a) && isObject(b)) && !(Array.isArray(a) && Array.isArray(b))) {
    return JSON.stringify(a) === JSON.stringify(b) ? undefined : path;
  }
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const diff = firstDifference((a as Json)[key], (b as Json)[key], [...path, Array.isArray(a) ? Number(key) : key]);
    if (diff) return diff;
  }
  return undefined;
}

/** The documents of a YAML file as kubectl reads them (YAML 1.1), with parse problems. */
export function parseYaml(text: string, where: string): { docs: unknown[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const docs12 = parseAllDocuments(text, { version: '1.2', uniqueKeys: true });
  const docs = parseAllDocuments(text, { version: '1.1', uniqueKeys: true }).flatMap((doc, index) => {
    for (const { message } of [...doc.errors, ...doc.warnings]) problems.push({ where, message: `YAML: ${message.split('\n')[0]}` });
    if (doc.errors.length > 0) return [];
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    const diff = firstDifference(value, docs12[index]?.toJS({ maxAliasCount: 100 }));
    if (diff) {
      const message = 'YAML 1.1 (kubectl) and YAML 1.2 read this value differently: quote it';
      problems.push({ where, resource: isObject(value) ? resourceName(value) : undefined, path: formatPath(diff), message });
    }
    return [value];
  });
  return { docs, problems };
}

export function listFiles(root: string, dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? listFiles(root, join(dir, entry.name)) : [join(dir, entry.name)]))
    .sort();
}

export interface Kustomization {
  /** These paths are relative to the repository root: its directory, */
  dir: string;
  /** the kustomization directories it names under bases:, */
  bases: string[];
  /** and the resource files it names. */
  files: string[];
}

const inside = (parent: string, child: string): boolean => child === parent || child.startsWith(parent + sep);
/** The strings of a list, with their indexes. */
const strings = (list: unknown) => [...asArray(list).entries()].filter((e): e is [number, string] => typeof e[1] === 'string');

/**
 * Every kustomization under deploy/k8s, and those outside it that their bases: name (nginx/),
 * checked against the schema above and against what kustomize would refuse; `used` collects every
 * file one of them names.
 */
export function readKustomizations(root: string, problems: Problem[], used: Set<string>): Kustomization[] {
  const files = listFiles(root, MANIFEST_DIR).filter((f) => /^kustomization\.ya?ml$|^Kustomization$/.test(basename(f)));
  const result: Kustomization[] = [];
  for (let i = 0; i < files.length; i++) {
    const file = files[i]!;
    const refuse = (path: string | undefined, message: string) => problems.push({ where: file, path, message });
    used.add(file);
    if (basename(file) !== 'kustomization.yaml') refuse(undefined, 'name it kustomization.yaml (the one spelling here)');
    const { docs, problems: yamlProblems } = parseYaml(readFileSync(join(root, file), 'utf8'), file);
    problems.push(...yamlProblems);
    const data = asObject(docs[0]);
    checkKustomization(data);
    for (const error of checkKustomization.errors ?? []) problems.push({ where: file, ...describeSchemaError(error) });
    const k: Kustomization = { dir: dirname(file), bases: [], files: [] };
    const absDir = resolve(root, k.dir);
    for (const field of ['bases', 'resources'] as const) {
      for (const [index, entry] of strings(data[field])) {
        const [path, target, quoted] = [`${field}[${index}]`, resolve(absDir, entry), `"${entry}"`];
        const [isDir, isFile] = [existsSync(target) && statSync(target).isDirectory(), field === 'resources'];
        const outside = `${quoted} is outside this kustomization's directory`;
        if (/:\/\/|^(github|gitlab)\.com\//.test(entry)) refuse(path, `${quoted} is remote: rendering must work offline`);
        else if (!existsSync(target)) refuse(path, `${quoted} does not exist`);
        else if (isFile && isDir) refuse(path, `${quoted} is a directory: it goes under bases: (kustomize v2.0.3)`);
        else if (isFile && !inside(absDir, target)) refuse(path, outside);
        else if (isFile) k.files.push(relative(root, target));
        else if (!existsSync(join(target, 'kustomization.yaml'))) refuse(path, `${quoted} has no kustomization.yaml`);
        else if (!inside(resolve(root), target)) refuse(path, `${quoted} is outside the repository`);
        else if (inside(target, absDir)) refuse(path, `${quoted} contains this kustomization (kustomize refuses the cycle)`);
        else k.bases.push(relative(root, target));
      }
    }
    k.files.forEach((f) => used.add(f));
    // kustomize loads generator files only in or below the kustomization's directory.
    asArray(data.configMapGenerator).forEach((generator, index) => {
      for (const [fileIndex, spec] of strings(asObject(generator).files)) {
        const [source, path] = [spec.slice(spec.indexOf('=') + 1), `configMapGenerator[${index}].files[${fileIndex}]`];
        const target = resolve(absDir, source);
        if (!inside(absDir, target)) refuse(path, `"${source}" is outside this kustomization's directory`);
        else if (!existsSync(target) || statSync(target).isDirectory()) refuse(path, `"${source}" is not a file`);
        else used.add(relative(root, target));
      }
    });
    files.push(...k.bases.map((base) => join(base, 'kustomization.yaml')).filter((f) => !files.includes(f)));
    result.push(k);
  }
  return result;
}

/** The kustomize in kubectl, as it says since kubectl 1.24 (Debian 12's 1.20 embeds v2.0.3). */
export async function kustomizeVersion(kubectl: string): Promise<string> {
  const { stdout } = await run(kubectl, ['version', '--client', '-o', 'json'], { allowFailure: true, timeoutMs: 30_000 });
  const version = /"kustomizeVersion":\s*"([^"]+)"/.exec(stdout)?.[1];
  return version ?? 'of kubectl < 1.24 (v2.0.3 in Debian 12)';
}

/** `kubectl kustomize <dir>`: the objects, or the problems (kustomize's error, YAML). */
export async function render(root: string, dir: string, kubectl: string): Promise<{ docs: Json[]; problems: Problem[] }> {
  const where = `kustomize build ${dir}`;
  const result = await run(kubectl, ['kustomize', join(root, dir)], { allowFailure: true, timeoutMs: 60_000 });
  if (result.code !== 0) {
    // kustomize v5's warnings (bases: is deprecated), kubectl's klog prefix and the root say nothing here.
    const stderr = result.stderr.replace(/^# Warning: .*\n/gm, '').trim();
    const said = (stderr || result.stdout.trim()).replace(/^E\d{4} [\d:.]+\s+\d+ \S+\] "command failed" err=/, '');
    return { docs: [], problems: [{ where, message: `failed: ${said.split(root + sep).join('')}` }] };
  }
  const { docs, problems } = parseYaml(result.stdout, where);
  return { docs: docs.filter(isObject), problems };
}
