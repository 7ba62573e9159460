import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { parseAllDocuments, stringify } from 'yaml';
import { CONFIG_KEYS, ConfigError, SECRET_KEYS, loadConfig } from '../../service/src/config/config.ts';
import { CliError, say } from '../lib/log.ts';
import { repoRoot } from '../lib/repo.ts';
import { run, which } from '../lib/run.ts';
import { mirrorDrift, syncMirrors } from './mirrors.ts';

/**
 * Offline validation of the Kubernetes manifests (deploy/k8s), for `make lint` and CI: a fresh
 * Debian 12 machine that reaches only the npm registry and Debian's archive.
 *
 * Schemas: Kubernetes 1.36, from two pinned npm packages generated from its OpenAPI spec, since
 * no packaged kubeconform or JSON-schema set exists for that machine (kubeconform is not in
 * Debian bookworm, and its schemas are downloaded at run time):
 *   - kubernetes-models: precompiled JSON-schema (ajv) validators per kind: types, required
 *     fields, enums, formats, int-or-string;
 *   - @kubernetes/client-node (the official JavaScript client): each model's attribute map, which
 *     turns every object strict here: a field the API does not define fails, as with kubeconform
 *     -strict or kubectl's strict field validation (the JSON schemas allow unknown fields).
 * Both were generated from release-1.36; upgrade them together (KUBERNETES_VERSION).
 *
 * Rendering: kustomize, through `kubectl kustomize` (KUBECTL, else kubectl on PATH). On a fresh
 * machine that is Debian's kubernetes-client (kubectl 1.20, kustomize v2.0.3); a newer kubectl
 * works too. The kustomizations use only fields both understand (KUSTOMIZATION_SCHEMA); the one
 * difference, directories under `resources:` (v2.0.3 wants them under `bases:`), is bridged in
 * a temporary copy. Every kustomization nobody else includes (the base, the examples) is
 * rendered, and the output is checked again, with cross-references (ConfigMaps, Secrets,
 * selectors, mounts) and the service's own configuration schema on its environment.
 *
 * Also: only the kinds in KINDS (anything else fails, Secrets in particular), every file under
 * deploy/k8s is used by a kustomization, YAML means the same to kubectl (YAML 1.1) as to YAML
 * 1.2 tools, and the copies of nginx/ and deploy/redis.conf equal their sources (mirrors.ts).
 */

export const KUBERNETES_VERSION = '1.36';
/** The manifests, relative to the repository root. */
export const MANIFEST_DIR = 'deploy/k8s';

/**
 * Secrets the operator creates (deploy/k8s/README.md), with their keys: manifests may mount
 * these and only these keys. No Secret object is ever in the repository.
 */
export const OPERATOR_SECRETS: Readonly<Record<string, readonly string[]>> = {
  'authstack-secrets': ['session_secrets', 'redis_password', 'metrics_token', 'admin_password'],
  'authstack-edge-tls': ['tls.crt', 'tls.key'],
  'authstack-redis': ['redis-password', 'requirepass.conf'],
};

/** YAML under deploy/k8s that is not a manifest (Helm values): parsed, not schema-checked. */
const NOT_MANIFESTS = new Set(['examples/redis-sentinel/values.yaml', 'examples/ingress-nginx/controller-values.yaml']);

type ModelClass = new (data: never) => { validate(): void };

/** The kinds this project deploys: anything else is an error, not something skipped. */
const KINDS: Readonly<Record<string, { model: () => Promise<ModelClass>; type: string }>> = {
  'v1/Namespace': { model: async () => (await import('kubernetes-models/v1/Namespace')).Namespace, type: 'V1Namespace' },
  'v1/ConfigMap': { model: async () => (await import('kubernetes-models/v1/ConfigMap')).ConfigMap, type: 'V1ConfigMap' },
  'v1/Service': { model: async () => (await import('kubernetes-models/v1/Service')).Service, type: 'V1Service' },
  'apps/v1/Deployment': { model: async () => (await import('kubernetes-models/apps/v1/Deployment')).Deployment, type: 'V1Deployment' },
  'apps/v1/StatefulSet': { model: async () => (await import('kubernetes-models/apps/v1/StatefulSet')).StatefulSet, type: 'V1StatefulSet' },
  'policy/v1/PodDisruptionBudget': {
    model: async () => (await import('kubernetes-models/policy/v1/PodDisruptionBudget')).PodDisruptionBudget,
    type: 'V1PodDisruptionBudget',
  },
  'networking.k8s.io/v1/NetworkPolicy': {
    model: async () => (await import('kubernetes-models/networking.k8s.io/v1/NetworkPolicy')).NetworkPolicy,
    type: 'V1NetworkPolicy',
  },
  'networking.k8s.io/v1/Ingress': { model: async () => (await import('kubernetes-models/networking.k8s.io/v1/Ingress')).Ingress, type: 'V1Ingress' },
};

/**
 * The Kustomization fields the manifests may use: each works the same from kustomize v2.0.3 to
 * v5 and none is deprecated in v5. Anything else (patches, labels, components, remote bases) is
 * refused, so the manifests stay renderable by Debian's kubectl.
 */
const KUSTOMIZATION_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['apiVersion', 'kind'],
  properties: {
    apiVersion: { const: 'kustomize.config.k8s.io/v1beta1' },
    kind: { const: 'Kustomization' },
    namespace: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 },
    resources: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', minLength: 1 } },
    configMapGenerator: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          name: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$' },
          behavior: { enum: ['create', 'merge', 'replace'] },
          literals: { type: 'array', items: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_.-]*=' } },
          files: { type: 'array', items: { type: 'string', minLength: 1 } },
        },
      },
    },
    generatorOptions: {
      type: 'object',
      additionalProperties: false,
      properties: {
        disableNameSuffixHash: { type: 'boolean' },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
        annotations: { type: 'object', additionalProperties: { type: 'string' } },
      },
    },
    images: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: { name: { type: 'string' }, newName: { type: 'string' }, newTag: { type: 'string' }, digest: { type: 'string' } },
      },
    },
  },
} as const;

export interface Problem {
  /** A file relative to the repository root, or `kustomize build <dir>` for rendered output. */
  where: string;
  /** kind/name */
  resource?: string;
  /** JSON path inside the resource, e.g. spec.template.spec.containers[0].image */
  path?: string;
  message: string;
}

export const formatProblem = (p: Problem): string => [p.where, p.resource, p.path, p.message].filter(Boolean).join(': ');

/** Every problem found, one per line (file, kind/name, JSON path, message). */
export class ManifestError extends CliError {
  readonly problems: readonly Problem[];

  constructor(problems: Problem[]) {
    super(
      `Kubernetes manifests (${MANIFEST_DIR}): ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n  - ${problems.map(formatProblem).join('\n  - ')}`,
    );
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

type Json = Record<string, unknown>;
type Segment = string | number;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const asObject = (value: unknown): Json => (isObject(value) ? value : {});
const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? (value as unknown[]) : []);
const asString = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

function formatPath(path: readonly Segment[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(segment)) out += out ? `.${segment}` : segment;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out || '(root)';
}

const pointerToPath = (pointer: string): Segment[] =>
  pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));

function describeSchemaError(error: ErrorObject): { path: string; message: string } {
  const path = pointerToPath(error.instancePath);
  if (error.keyword === 'required') return { path: formatPath([...path, String(error.params.missingProperty)]), message: 'required field is missing' };
  if (error.keyword === 'enum') {
    const allowed = asArray(error.params.allowedValues)
      .map((v) => JSON.stringify(v))
      .join(', ');
    return { path: formatPath(path), message: `must be one of ${allowed}` };
  }
  if (error.keyword === 'const') return { path: formatPath(path), message: `must be ${JSON.stringify(error.params.allowedValue)}` };
  if (error.keyword === 'additionalProperties') {
    return { path: formatPath([...path, String(error.params.additionalProperty)]), message: 'field is not allowed here' };
  }
  return { path: formatPath(path), message: error.message ?? error.keyword };
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

type AttributeMap = ReadonlyArray<{ baseName: string; type: string }>;
type AttributeLookup = (type: string) => AttributeMap | undefined;

let attributeLookup: Promise<AttributeLookup> | undefined;

/** The official client's model metadata: the fields (and their types) of every API type. */
function attributes(): Promise<AttributeLookup> {
  attributeLookup ??= import('@kubernetes/client-node/dist/gen/models/all.js').then((models) => {
    const byName = models as unknown as Record<string, { getAttributeTypeMap?: () => AttributeMap } | undefined>;
    return (type: string) => {
      const model = byName[type];
      return typeof model?.getAttributeTypeMap === 'function' ? model.getAttributeTypeMap() : undefined;
    };
  });
  return attributeLookup;
}

/** Fields the API type does not define, at any depth (the JSON schemas let them through). */
function unknownFields(value: unknown, type: string, path: Segment[], lookup: AttributeLookup, found: Array<{ path: string; message: string }>): void {
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    asArray(value).forEach((item, index) => unknownFields(item, array[1]!, [...path, index], lookup, found));
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    for (const [key, item] of Object.entries(asObject(value))) unknownFields(item, map[1]!, [...path, key], lookup, found);
    return;
  }
  const fields = lookup(type);
  // Scalars, int-or-string, free-form JSON, and wrong types (the schema check reports those).
  if (!fields || !isObject(value)) return;
  const known = new Map(fields.map((f) => [f.baseName, f.type]));
  for (const [key, item] of Object.entries(value)) {
    const fieldType = known.get(key);
    if (fieldType !== undefined) {
      unknownFields(item, fieldType, [...path, key], lookup, found);
      continue;
    }
    const nearest = [...known.keys()].map((name) => ({ name, distance: editDistance(key, name) })).sort((a, b) => a.distance - b.distance)[0];
    const hint = nearest && nearest.distance <= 2 ? ` (did you mean "${nearest.name}"?)` : '';
    found.push({
      path: formatPath([...path, key]),
      message: `unknown field${hint}: ${type.replace(/^V\d\w*?(?=[A-Z][a-z])/, '')} has no such field in Kubernetes ${KUBERNETES_VERSION}`,
    });
  }
}

const resourceName = (doc: Json): string => `${asString(doc.kind) ?? '(no kind)'}/${asString(asObject(doc.metadata).name) ?? '(no name)'}`;

/** Schema (kubernetes-models) and unknown fields (client-node) of one object; kinds outside KINDS fail. */
export async function validateResource(doc: unknown, where: string): Promise<Problem[]> {
  if (!isObject(doc)) return [{ where, message: 'not a Kubernetes object (expected a mapping with apiVersion and kind)' }];
  const resource = resourceName(doc);
  const apiVersion = asString(doc.apiVersion);
  const kind = asString(doc.kind);
  if (kind === 'Secret') {
    return [
      { where, resource, message: `Secrets are never committed: the operator creates them (${MANIFEST_DIR}/README.md), the manifests only reference them` },
    ];
  }
  const info = apiVersion && kind ? KINDS[`${apiVersion}/${kind}`] : undefined;
  if (!info) {
    return [
      {
        where,
        resource,
        message: `kind "${apiVersion ?? '?'}/${kind ?? '?'}" is not one this project deploys (allowed: ${Object.keys(KINDS).join(', ')}); a new kind goes into KINDS in ops/k8s/validate.ts`,
      },
    ];
  }
  const problems: Problem[] = [];
  const Model = await info.model();
  try {
    new Model(doc as never).validate();
  } catch (error) {
    const errors = (error as { errors?: unknown }).errors;
    if (!Array.isArray(errors)) throw error;
    const seen = new Set<string>();
    for (const schemaError of errors as ErrorObject[]) {
      const { path, message } = describeSchemaError(schemaError);
      if (seen.has(path + message)) continue;
      seen.add(path + message);
      problems.push({ where, resource, path, message });
    }
  }
  const found: Array<{ path: string; message: string }> = [];
  unknownFields(doc, info.type, [], await attributes(), found);
  for (const { path, message } of found) problems.push({ where, resource, path, message });
  return problems;
}

/** Where YAML 1.1 (kubectl) and 1.2 read a document differently: on/off/yes/no, 0440, 1:30, <<. */
function firstDifference(a: unknown, b: unknown, path: Segment[] = []): Segment[] | undefined {
  if (isObject(a) && isObject(b)) {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const diff = firstDifference(a[key], b[key], [...path, key]);
      if (diff) return diff;
    }
    return undefined;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const diff = firstDifference(a[i], b[i], [...path, i]);
      if (diff) return diff;
    }
    return undefined;
  }
  return JSON.stringify(a) === JSON.stringify(b) ? undefined : path;
}

/** The documents of a YAML file as kubectl reads them (YAML 1.1), with parse problems. */
export function parseYaml(text: string, where: string): { docs: unknown[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const docs11 = parseAllDocuments(text, { version: '1.1', uniqueKeys: true, prettyErrors: true });
  const docs12 = parseAllDocuments(text, { version: '1.2', uniqueKeys: true });
  if (!Array.isArray(docs11) || !Array.isArray(docs12)) return { docs: [], problems };
  const docs: unknown[] = [];
  docs11.forEach((doc, index) => {
    for (const issue of [...doc.errors, ...doc.warnings]) problems.push({ where, message: `YAML: ${issue.message.split('\n')[0]}` });
    if (doc.errors.length > 0) return;
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    const diff = firstDifference(value, docs12[index]?.toJS({ maxAliasCount: 100 }));
    if (diff) {
      problems.push({
        where,
        resource: isObject(value) ? resourceName(value) : undefined,
        path: formatPath(diff),
        message: 'YAML 1.1 (kubectl) and YAML 1.2 read this value differently: quote it',
      });
    }
    docs.push(value);
  });
  return { docs, problems };
}

interface Kustomization {
  /** Directory, relative to the repository root. */
  dir: string;
  /** Kustomization directories it includes (relative to the repository root). */
  includes: string[];
  /** Resource files (relative to the repository root). */
  files: string[];
}

function listFiles(root: string, dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? listFiles(root, join(dir, entry.name)) : [join(dir, entry.name)]))
    .sort();
}

const inside = (parent: string, child: string): boolean => child === parent || child.startsWith(parent + sep);

/** Parses every kustomization.yaml under deploy/k8s and checks what it names. */
function readKustomizations(root: string, problems: Problem[], used: Set<string>): Kustomization[] {
  const ajv = new Ajv({ allErrors: true, strict: true });
  const check = ajv.compile(KUSTOMIZATION_SCHEMA);
  const manifestRoot = resolve(root, MANIFEST_DIR);
  const result: Kustomization[] = [];
  for (const file of listFiles(root, MANIFEST_DIR).filter((f) => /^kustomization\.ya?ml$|^Kustomization$/.test(basename(f)))) {
    used.add(file);
    if (basename(file) !== 'kustomization.yaml') problems.push({ where: file, message: 'name it kustomization.yaml (the one spelling used here)' });
    const { docs, problems: yamlProblems } = parseYaml(readFileSync(join(root, file), 'utf8'), file);
    problems.push(...yamlProblems);
    const data = asObject(docs[0]);
    if (!check(data)) for (const error of check.errors ?? []) problems.push({ where: file, ...describeSchemaError(error) });
    const dir = dirname(file);
    const absDir = resolve(root, dir);
    const k: Kustomization = { dir, includes: [], files: [] };
    for (const [index, entry] of asArray(data.resources).entries()) {
      if (typeof entry !== 'string') continue;
      const path = `resources[${index}]`;
      const target = resolve(absDir, entry);
      if (entry.includes('://') || /^(github\.com|gitlab\.com)\//.test(entry)) {
        problems.push({ where: file, path, message: `"${entry}": remote resources are not allowed (rendering must work offline)` });
      } else if (!existsSync(target)) {
        problems.push({ where: file, path, message: `"${entry}" does not exist` });
      } else if (statSync(target).isDirectory()) {
        if (!existsSync(join(target, 'kustomization.yaml')))
          problems.push({ where: file, path, message: `"${entry}" is a directory without kustomization.yaml` });
        else if (!inside(manifestRoot, target)) problems.push({ where: file, path, message: `"${entry}" is outside ${MANIFEST_DIR}` });
        else if (inside(target, absDir)) problems.push({ where: file, path, message: `"${entry}" contains this kustomization (kustomize refuses the cycle)` });
        else k.includes.push(relative(root, target));
      } else if (!inside(absDir, target)) {
        problems.push({ where: file, path, message: `"${entry}" is outside this kustomization's directory (kustomize refuses to load it)` });
      } else {
        k.files.push(relative(root, target));
        used.add(relative(root, target));
      }
    }
    for (const [index, generator] of asArray(data.configMapGenerator).entries()) {
      for (const [fileIndex, spec] of asArray(asObject(generator).files).entries()) {
        if (typeof spec !== 'string') continue;
        const source = spec.includes('=') ? spec.slice(spec.indexOf('=') + 1) : spec;
        const target = resolve(absDir, source);
        const path = `configMapGenerator[${index}].files[${fileIndex}]`;
        if (!inside(absDir, target))
          problems.push({ where: file, path, message: `"${source}" is outside this kustomization's directory (kustomize refuses to load it)` });
        else if (!existsSync(target) || statSync(target).isDirectory()) problems.push({ where: file, path, message: `"${source}" is not a file` });
        else used.add(relative(root, target));
      }
    }
    result.push(k);
  }
  return result;
}

interface Rendering {
  dir: string;
  docs: Json[];
}

/** kubectl kustomize for each top-level kustomization; through `bases:` for kustomize before v3. */
async function render(
  root: string,
  dirs: string[],
  kubectl: string,
  problems: Problem[],
  report?: (m: string) => void,
): Promise<{ renderings: Rendering[]; kustomize: string }> {
  const versionRun = await run(kubectl, ['version', '--client', '-o', 'json'], { allowFailure: true, timeoutMs: 30_000 });
  let kustomize: string | undefined;
  try {
    kustomize = asString(asObject(JSON.parse(versionRun.stdout)).kustomizeVersion);
  } catch {
    /* an old kubectl: no kustomizeVersion, or no JSON */
  }
  const legacy = !kustomize || /^v[0-2]\./.test(kustomize);
  let base = root;
  let tmp: string | undefined;
  if (legacy) {
    tmp = mkdtempSync(join(tmpdir(), 'authstack-k8s-'));
    base = tmp;
    cpSync(join(root, MANIFEST_DIR), join(tmp, MANIFEST_DIR), { recursive: true });
    for (const file of listFiles(tmp, MANIFEST_DIR).filter((f) => basename(f) === 'kustomization.yaml')) {
      const data = asObject(parseYaml(readFileSync(join(tmp, file), 'utf8'), file).docs[0]);
      const entries = asArray(data.resources).filter((e): e is string => typeof e === 'string');
      const isDir = (e: string) => existsSync(join(tmp!, dirname(file), e)) && statSync(join(tmp!, dirname(file), e)).isDirectory();
      const bases = entries.filter(isDir);
      if (bases.length === 0) continue;
      const files = entries.filter((e) => !isDir(e));
      if (files.length > 0) data.resources = files;
      else delete data.resources;
      data.bases = bases;
      writeFileSync(join(tmp, file), stringify(data));
    }
  }
  try {
    const renderings: Rendering[] = [];
    const results = await Promise.all(dirs.map((dir) => run(kubectl, ['kustomize', join(base, dir)], { allowFailure: true, timeoutMs: 60_000 })));
    results.forEach((result, index) => {
      const dir = dirs[index]!;
      const where = `kustomize build ${dir}`;
      if (result.code !== 0) {
        // kubectl's klog prefix and the temporary directory say nothing to the reader.
        const said = (result.stderr.trim() || result.stdout.trim()).replace(/^E\d{4} [\d:.]+\s+\d+ \S+\] "command failed" err=/, '');
        problems.push({ where, message: `failed: ${said.split(base + sep).join('')}` });
        return;
      }
      const { docs, problems: yamlProblems } = parseYaml(result.stdout, where);
      problems.push(...yamlProblems);
      renderings.push({ dir, docs: docs.filter(isObject) });
    });
    // kubectl reports its kustomize only since 1.24; Debian bookworm's 1.20 embeds v2.0.3.
    const version = kustomize ?? "of an old kubectl (v2.0.3 in Debian bookworm's 1.20)";
    report?.(`rendered ${dirs.join(', ')} with kustomize ${version}${legacy ? ' (directories passed as bases:)' : ''}`);
    return { renderings, kustomize: version };
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}

const podSpecOf = (doc: Json): Json => asObject(asObject(asObject(doc.spec).template).spec);
const podLabelsOf = (doc: Json): Json => asObject(asObject(asObject(asObject(doc.spec).template).metadata).labels);
const isWorkload = (doc: Json): boolean => doc.kind === 'Deployment' || doc.kind === 'StatefulSet';
const matches = (selector: Json, labels: Json): boolean => Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);

/** References between the rendered objects that the schemas cannot see. */
function crossReferences(docs: Json[], where: string): Problem[] {
  const problems: Problem[] = [];
  const configMaps = new Map(docs.filter((d) => d.kind === 'ConfigMap').map((d) => [asString(asObject(d.metadata).name), asObject(d.data)]));
  const workloads = docs.filter(isWorkload);
  for (const doc of docs) {
    const resource = resourceName(doc);
    const problem = (path: string, message: string) => problems.push({ where, resource, path, message });
    const configMapKey = (path: string, nameValue: unknown, keyValue: unknown, optional: unknown) => {
      const [name, key] = [asString(nameValue) ?? '', asString(keyValue)];
      const data = configMaps.get(name);
      if (!data) {
        if (optional !== true) problem(path, `ConfigMap "${name}" is not in the output`);
      } else if (key !== undefined && !(key in data)) problem(path, `ConfigMap "${name}" has no key "${key}"`);
    };
    const secretKey = (path: string, nameValue: unknown, keyValue: unknown) => {
      const [name, key] = [asString(nameValue) ?? '', asString(keyValue)];
      const keys = OPERATOR_SECRETS[name];
      if (!keys) problem(path, `Secret "${name}" is none of the operator's Secrets (${Object.keys(OPERATOR_SECRETS).join(', ')}; README.md)`);
      else if (key !== undefined && !keys.includes(key)) problem(path, `Secret "${name}" has no key "${key}" (keys: ${keys.join(', ')})`);
    };
    if (isWorkload(doc)) {
      const spec = asObject(doc.spec);
      const selector = asObject(asObject(spec.selector).matchLabels);
      if (!matches(selector, podLabelsOf(doc))) problem('spec.selector.matchLabels', 'does not match the pod template labels');
      if (doc.kind === 'StatefulSet' && !docs.some((d) => d.kind === 'Service' && asObject(d.metadata).name === spec.serviceName)) {
        problem('spec.serviceName', `Service "${String(spec.serviceName)}" is not in the output`);
      }
      const podSpec = podSpecOf(doc);
      const volumes = asArray(podSpec.volumes).map(asObject);
      volumes.forEach((volume, v) => {
        const path = `spec.template.spec.volumes[${v}]`;
        const configMap = asObject(volume.configMap);
        if (volume.configMap) {
          configMapKey(`${path}.configMap.name`, configMap.name, undefined, configMap.optional);
          asArray(configMap.items).forEach((item, i) =>
            configMapKey(`${path}.configMap.items[${i}].key`, configMap.name, asObject(item).key, configMap.optional),
          );
        }
        const secret = asObject(volume.secret);
        if (volume.secret) {
          secretKey(`${path}.secret.secretName`, secret.secretName, undefined);
          asArray(secret.items).forEach((item, i) => secretKey(`${path}.secret.items[${i}].key`, secret.secretName, asObject(item).key));
        }
      });
      const volumeNames = new Set([...volumes.map((v) => v.name), ...asArray(spec.volumeClaimTemplates).map((t) => asObject(asObject(t).metadata).name)]);
      for (const group of ['initContainers', 'containers'] as const) {
        asArray(podSpec[group]).forEach((container, c) => {
          const base = `spec.template.spec.${group}[${c}]`;
          const ctr = asObject(container);
          asArray(ctr.envFrom).forEach((from, i) => {
            const ref = asObject(asObject(from).configMapRef);
            if (asObject(from).configMapRef) configMapKey(`${base}.envFrom[${i}].configMapRef.name`, ref.name, undefined, ref.optional);
            if (asObject(from).secretRef) problem(`${base}.envFrom[${i}].secretRef`, 'secrets go in as files (*_FILE), never as environment');
          });
          asArray(ctr.env).forEach((env, i) => {
            const from = asObject(asObject(env).valueFrom);
            const ref = asObject(from.configMapKeyRef);
            if (from.configMapKeyRef) configMapKey(`${base}.env[${i}].valueFrom.configMapKeyRef`, ref.name, ref.key, ref.optional);
            if (from.secretKeyRef) problem(`${base}.env[${i}].valueFrom.secretKeyRef`, 'secrets go in as files (*_FILE), never as environment');
          });
          asArray(ctr.volumeMounts).forEach((mount, i) => {
            if (!volumeNames.has(asObject(mount).name)) problem(`${base}.volumeMounts[${i}].name`, `no volume "${String(asObject(mount).name)}"`);
          });
        });
      }
    }
    if (doc.kind === 'Ingress') {
      const spec = asObject(doc.spec);
      asArray(spec.tls).forEach((tls, i) => secretKey(`spec.tls[${i}].secretName`, asObject(tls).secretName, undefined));
      asArray(spec.rules).forEach((rule, r) =>
        asArray(asObject(asObject(rule).http).paths).forEach((entry, p) => {
          const backend = asObject(asObject(asObject(entry).backend).service);
          const path = `spec.rules[${r}].http.paths[${p}].backend.service`;
          const target = docs.find((d) => d.kind === 'Service' && asObject(d.metadata).name === backend.name);
          const port = asObject(backend.port);
          if (!target) problem(`${path}.name`, `Service "${String(asString(backend.name))}" is not in the output`);
          else if (
            !asArray(asObject(target.spec).ports).some((sp) => (port.name !== undefined ? asObject(sp).name === port.name : asObject(sp).port === port.number))
          ) {
            problem(`${path}.port`, `Service "${String(asString(backend.name))}" has no such port`);
          }
        }),
      );
    }
    if (doc.kind === 'Service' || doc.kind === 'PodDisruptionBudget') {
      const spec = asObject(doc.spec);
      const selector = doc.kind === 'Service' ? asObject(spec.selector) : asObject(asObject(spec.selector).matchLabels);
      const targets = workloads.filter((w) => asObject(w.metadata).namespace === asObject(doc.metadata).namespace && matches(selector, podLabelsOf(w)));
      if (targets.length === 0)
        problem(doc.kind === 'Service' ? 'spec.selector' : 'spec.selector.matchLabels', 'selects no Deployment or StatefulSet in the output');
      if (doc.kind === 'Service') {
        const portNames = new Set(
          targets.flatMap((w) => asArray(podSpecOf(w).containers).flatMap((c) => asArray(asObject(c).ports).map((p) => asObject(p).name))),
        );
        asArray(spec.ports).forEach((port, i) => {
          const target = asObject(port).targetPort;
          if (typeof target === 'string' && targets.length > 0 && !portNames.has(target))
            problem(`spec.ports[${i}].targetPort`, `no container port named "${target}"`);
        });
      }
    }
  }
  return problems;
}

/**
 * The nginx image renders /etc/nginx/templates with envsubst and leaves a variable it does not
 * know as `${NAME}`, on which nginx then fails at start: every `${NAME}` in the mounted
 * templates must be in the container's environment.
 */
function templateVariables(docs: Json[], where: string): Problem[] {
  const problems: Problem[] = [];
  const configMaps = new Map(docs.filter((d) => d.kind === 'ConfigMap').map((d) => [asString(asObject(d.metadata).name), asObject(d.data)]));
  for (const doc of docs.filter(isWorkload)) {
    const volumes = asArray(podSpecOf(doc).volumes).map(asObject);
    asArray(podSpecOf(doc).containers).forEach((container, c) => {
      const ctr = asObject(container);
      const mount = asArray(ctr.volumeMounts)
        .map(asObject)
        .find((m) => m.mountPath === '/etc/nginx/templates');
      const volume = volumes.find((v) => v.name === mount?.name);
      const templates = configMaps.get(asString(asObject(volume?.configMap).name));
      if (!templates) return;
      const defined = new Set(asArray(ctr.env).map((e) => asObject(e).name));
      for (const from of asArray(ctr.envFrom))
        for (const key of Object.keys(configMaps.get(asString(asObject(asObject(from).configMapRef).name)) ?? {})) defined.add(key);
      for (const [key, text] of Object.entries(templates)) {
        for (const name of new Set([...String(text).matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]!))) {
          if (!defined.has(name)) {
            problems.push({
              where,
              resource: resourceName(doc),
              path: `spec.template.spec.containers[${c}].env`,
              message: `${name} (used by template ${key}) is not set`,
            });
          }
        }
      }
    });
  }
  return problems;
}

/** Placeholder secret contents that satisfy the service's schema. */
const PLACEHOLDER_SECRETS: Record<string, string> = { SESSION_SECRETS: 'k8s-validate-placeholder-session-secret-0123456789' };

/** The service's configuration schema on the environment a rendered service pod would get. */
function serviceConfiguration(docs: Json[], where: string): Problem[] {
  const problems: Problem[] = [];
  const configMaps = new Map(docs.filter((d) => d.kind === 'ConfigMap').map((d) => [asString(asObject(d.metadata).name), asObject(d.data)]));
  const allowed = new Set<string>([...CONFIG_KEYS, ...SECRET_KEYS.map((k) => `${k}_FILE`)]);
  for (const doc of docs.filter(isWorkload)) {
    const podSpec = podSpecOf(doc);
    asArray(podSpec.containers).forEach((container, c) => {
      const ctr = asObject(container);
      if (!/(^|\/)authstack\/service([:@]|$)/.test(asString(ctr.image) ?? '')) return;
      const resource = resourceName(doc);
      const base = `spec.template.spec.containers[${c}]`;
      const env: Record<string, string> = {};
      for (const from of asArray(ctr.envFrom)) Object.assign(env, configMaps.get(asString(asObject(asObject(from).configMapRef).name)) ?? {});
      for (const entry of asArray(ctr.env).map(asObject)) {
        const ref = asObject(asObject(entry.valueFrom).configMapKeyRef);
        const value = entry.value ?? (entry.valueFrom ? asString(configMaps.get(asString(ref.name))?.[asString(ref.key) ?? '']) : undefined);
        if (typeof entry.name === 'string' && typeof value === 'string') env[entry.name] = value;
      }
      for (const key of Object.keys(env).filter((k) => !allowed.has(k))) {
        problems.push({ where, resource, path: `${base}.env`, message: `${key} is not a setting of the service (service/src/config/config.ts)` });
      }
      const tmp = mkdtempSync(join(tmpdir(), 'authstack-k8s-env-'));
      try {
        const mounts = asArray(ctr.volumeMounts).map(asObject);
        const volumes = asArray(podSpec.volumes).map(asObject);
        for (const key of SECRET_KEYS) {
          if (env[key]) problems.push({ where, resource, path: `${base}.env`, message: `${key} is a secret: set ${key}_FILE to a file from a Secret instead` });
          const file = env[`${key}_FILE`];
          if (!file) continue;
          const mount = mounts.find((m) => m.mountPath === dirname(file));
          const secret = asObject(volumes.find((v) => v.name === mount?.name)?.secret);
          const keys = OPERATOR_SECRETS[asString(secret.secretName) ?? ''];
          if (!mount || !keys?.includes(basename(file))) {
            problems.push({ where, resource, path: `${base}.env`, message: `${key}_FILE=${file} is no key of an operator Secret mounted in this container` });
          }
          env[`${key}_FILE`] = join(tmp, key);
          writeFileSync(join(tmp, key), PLACEHOLDER_SECRETS[key] ?? 'placeholder');
        }
        loadConfig(env);
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        for (const issue of error.issues)
          problems.push({ where, resource, path: `${base}.env`, message: `the service would refuse this configuration: ${issue}` });
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });
  }
  return problems;
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
  const problems: Problem[] = mirrorDrift(root).map((message) => ({ where: MANIFEST_DIR, message }));
  const used = new Set<string>();
  const kustomizations = readKustomizations(root, problems, used);
  if (!kustomizations.some((k) => k.dir === MANIFEST_DIR)) problems.push({ where: MANIFEST_DIR, message: 'kustomization.yaml (the base) is missing' });

  let resources = 0;
  const seen = new Set<string>();
  const add = (list: Problem[]) => {
    for (const p of list) {
      const key = [p.resource, p.path, p.message].join('\0');
      if (p.resource && seen.has(key)) continue;
      seen.add(key);
      problems.push(p);
    }
  };
  for (const file of listFiles(root, MANIFEST_DIR)) {
    const rel = relative(MANIFEST_DIR, file);
    const yaml = /\.ya?ml$/.test(file);
    if (yaml && NOT_MANIFESTS.has(rel)) {
      add(parseYaml(readFileSync(join(root, file), 'utf8'), file).problems);
      continue;
    }
    if (!used.has(file) && basename(file) !== 'README.md') {
      problems.push({ where: file, message: yaml ? 'no kustomization.yaml lists this file under resources:' : 'no configMapGenerator uses this file' });
      continue;
    }
    if (!yaml || basename(file) === 'kustomization.yaml' || !kustomizations.some((k) => k.files.includes(file))) continue;
    const { docs, problems: yamlProblems } = parseYaml(readFileSync(join(root, file), 'utf8'), file);
    add(yamlProblems);
    for (const doc of docs.filter((d) => d !== null)) {
      resources++;
      add(await validateResource(doc, file));
    }
  }

  const kubectl = findKubectl(options.kubectl);
  let summary = `${resources} resources in ${kustomizations.length} kustomizations, Kubernetes ${KUBERNETES_VERSION} schemas, unknown fields refused`;
  if (kubectl === undefined) {
    problems.push({
      where: MANIFEST_DIR,
      message: 'kubectl not found: rendering needs it (apt-get install kubernetes-client, or KUBECTL=/path/to/kubectl)',
    });
  } else if (kubectl !== null) {
    const included = new Set(kustomizations.flatMap((k) => k.includes));
    // The base first, so a problem it shares with the examples is reported for the base.
    const tops = kustomizations
      .map((k) => k.dir)
      .filter((dir) => !included.has(dir))
      .sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b));
    const { renderings, kustomize } = await render(root, tops, kubectl, problems, options.report);
    for (const { dir, docs } of renderings) {
      const where = `kustomize build ${dir}`;
      for (const doc of docs) add(await validateResource(doc, where));
      add(crossReferences(docs, where));
      add(serviceConfiguration(docs, where));
      add(templateVariables(docs, where));
    }
    summary += `; ${renderings.length} renderings (kustomize ${kustomize}) checked, with references, the service's configuration and the edge's template variables`;
  }
  if (problems.length > 0) throw new ManifestError(problems);
  options.report?.(`ok: ${summary}`);
}

/**
 * The base as written, without kustomize: every resource of deploy/k8s and the kustomizations it
 * includes, plus each generated ConfigMap as a plain one (literals only, no hash suffix). For
 * policy checks that must not depend on a kubectl.
 */
export function baseDocuments(root: string = repoRoot): Json[] {
  const docs: Json[] = [];
  const visit = (dir: string) => {
    const file = join(dir, 'kustomization.yaml');
    const data = asObject(parseYaml(readFileSync(join(root, file), 'utf8'), file).docs[0]);
    for (const entry of asArray(data.resources).filter((e): e is string => typeof e === 'string')) {
      const target = join(dir, entry);
      if (statSync(join(root, target)).isDirectory()) visit(target);
      else docs.push(...parseYaml(readFileSync(join(root, target), 'utf8'), target).docs.filter(isObject));
    }
    for (const generator of asArray(data.configMapGenerator).map(asObject)) {
      const literals = asArray(generator.literals).filter((l): l is string => typeof l === 'string');
      const entries = literals.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]);
      docs.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: generator.name }, data: Object.fromEntries(entries) });
    }
  };
  visit(MANIFEST_DIR);
  return docs;
}

const USAGE = `usage: node ops/k8s/validate.ts [--sync]

Validates ${MANIFEST_DIR} offline against the Kubernetes ${KUBERNETES_VERSION} schemas (unknown fields fail),
renders every top-level kustomization with kubectl kustomize (KUBECTL, else kubectl on PATH;
Debian: apt-get install kubernetes-client) and checks the output again.
  --sync   first refresh the copies of nginx/ and deploy/redis.conf under ${MANIFEST_DIR}`;

if (import.meta.main) {
  const started = performance.now();
  const args = process.argv.slice(2);
  try {
    if (args.includes('--help') || args.includes('-h')) {
      process.stdout.write(`${USAGE}\n`);
    } else {
      const unknown = args.filter((a) => a !== '--sync');
      if (unknown.length > 0) throw new CliError(`unknown argument ${unknown.join(' ')}\n${USAGE}`, 2);
      if (args.includes('--sync')) {
        const written = syncMirrors(repoRoot);
        say('k8s', written.length > 0 ? `refreshed ${written.join(', ')}` : 'the copies of nginx/ and deploy/redis.conf are up to date');
      }
      await validateKubernetesManifests({ report: (message) => say('k8s', message) });
      say('k8s', `done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = error instanceof CliError ? error.exitCode : 1;
  }
}
