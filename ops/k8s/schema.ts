import type { ErrorObject } from 'ajv';

/**
 * One Kubernetes object against the Kubernetes 1.36 API, offline, from two pinned npm packages
 * generated from its OpenAPI spec (no packaged kubeconform or JSON-schema set exists for a
 * Debian 12 machine that reaches only npm and Debian): kubernetes-models' precompiled ajv
 * validators (types, required fields, enums, formats) and @kubernetes/client-node's attribute
 * maps (the fields of each API type). Upgrade the two together (KUBERNETES_VERSION).
 */
export const KUBERNETES_VERSION = '1.36';

/** The kinds this project deploys: anything else is an error, not something skipped. */
const KINDS = [
  'v1/Namespace',
  'v1/ConfigMap',
  'v1/Service',
  'apps/v1/Deployment',
  'apps/v1/StatefulSet',
  'policy/v1/PodDisruptionBudget',
  'networking.k8s.io/v1/NetworkPolicy',
  'networking.k8s.io/v1/Ingress',
];

export interface Problem {
  /** A file relative to the repository root, or `kustomize build <dir>` for rendered output. */
  where: string;
  /** kind/name */
  resource?: string;
  /** JSON path inside the resource, e.g. spec.template.spec.containers[0].image */
  path?: string;
  message: string;
}

export type Json = Record<string, unknown>;
export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
export const asObject = (v: unknown): Json => (isObject(v) ? v : {});
export const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? (v as unknown[]) : []);
export const asString = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
/** kind/name */
export const resourceName = (doc: Json): string => `${asString(doc.kind) ?? '?'}/${asString(asObject(doc.metadata).name) ?? '?'}`;

type Segment = string | number;

/** spec.template.spec.containers[0], annotations["app.kubernetes.io/name"] */
export function formatPath(path: readonly Segment[]): string {
  const parts = path.map((s, i) => {
    if (typeof s === 'number') return `[${s}]`;
    return /^[A-Za-z_]\w*$/.test(s) ? `${i > 0 ? '.' : ''}${s}` : `[${JSON.stringify(s)}]`;
  });
  return parts.join('') || '(root)';
}

/** An ajv error (kubernetes-models' validators, or the kustomization schema) as a JSON path and a message. */
export function describeSchemaError(error: ErrorObject): { path: string; message: string } {
  const pointer = error.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const path: Segment[] = pointer.map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'required') {
    return { path: formatPath([...path, String(params.missingProperty)]), message: 'required field is missing' };
  }
  if (error.keyword === 'additionalProperties') {
    return { path: formatPath([...path, String(params.additionalProperty)]), message: 'field is not allowed here' };
  }
  const message = error.keyword === 'enum' ? `must be one of ${asArray(params.allowedValues).join(', ')}` : error.message;
  return { path: formatPath(path), message: message ?? error.keyword };
}

type Models = Record<string, { getAttributeTypeMap?: () => ReadonlyArray<{ baseName: string; type: string }> } | undefined>;
let clientModels: Promise<Models> | undefined;

/** Schema (kubernetes-models) and unknown fields (client-node) of one object; other kinds and Secrets fail. */
export async function validateResource(doc: unknown, where: string): Promise<Problem[]> {
  if (!isObject(doc)) return [{ where, message: 'not a Kubernetes object (a mapping with apiVersion and kind)' }];
  const resource = resourceName(doc);
  const [apiVersion, kind] = [asString(doc.apiVersion) ?? '?', asString(doc.kind) ?? '?'];
  if (kind === 'Secret') {
    const message = 'Secrets are never committed: the operator creates them (deploy/k8s/README.md)';
    return [{ where, resource, message }];
  }
  if (!KINDS.includes(`${apiVersion}/${kind}`)) {
    const allowed = `allowed: ${KINDS.join(', ')}; a new kind goes into KINDS in ops/k8s/schema.ts`;
    return [{ where, resource, message: `kind "${apiVersion}/${kind}" is not one this project deploys (${allowed})` }];
  }
  const problems: Problem[] = [];
  const report = (path: Segment[] | string, message: string) => {
    problems.push({ where, resource, path: typeof path === 'string' ? path : formatPath(path), message });
  };
  type Model = new (data: never) => { validate(): void };
  const module = (await import(`kubernetes-models/${apiVersion}/${kind}`)) as Record<string, Model>;
  try {
    new module[kind]!(doc as never).validate();
  } catch (error) {
    const errors = (error as { errors?: ErrorObject[] }).errors;
    if (!Array.isArray(errors)) throw error;
    const unique = new Map(errors.map(describeSchemaError).map((d) => [d.path + d.message, d]));
    for (const { path, message } of unique.values()) report(path, message);
  }

  clientModels ??= import('@kubernetes/client-node/dist/gen/models/all.js').then((models) => models as unknown as Models);
  const models = await clientModels;
  /**
   * Hand-written: fields the API type does not define, at any depth (kubeconform -strict, kubectl's
   * strict field validation). kubernetes-models ships no JSON schemas to compile again with
   * additionalProperties: false, only ajv's generated code, which lets unknown fields through.
   */
  const inVersion = `Kubernetes ${KUBERNETES_VERSION}`;
  const walk = (value: unknown, type: string, path: Segment[]): void => {
    const [array, map] = [/^Array<(.+)>$/.exec(type), /^\{ \[key: string\]: (.+); \}$/.exec(type)];
    if (array) asArray(value).forEach((item, i) => walk(item, array[1]!, [...path, i]));
    if (map) for (const [key, item] of Object.entries(asObject(value))) walk(item, map[1]!, [...path, key]);
    const fields = models[type]?.getAttributeTypeMap?.();
    // Scalars, int-or-string, free-form JSON, and wrong types (the schema check reports those).
    if (!fields || !isObject(value)) return;
    for (const [key, item] of Object.entries(value)) {
      const field = fields.find((f) => f.baseName === key);
      if (field) walk(item, field.type, [...path, key]);
      else report([...path, key], `unknown field: ${type.replace(/^V\d\w*?(?=[A-Z][a-z])/, '')} has no such field in ${inVersion}`);
    }
  };
  // The client's name for the type: V1Deployment for apps/v1 Deployment, V1beta1... for v1beta1.
  const type = `V${apiVersion.split('/').pop()!.slice(1)}${kind}`;
  if (!models[type]?.getAttributeTypeMap) throw new Error(`@kubernetes/client-node has no ${type}: unknown fields would pass`);
  walk(doc, type, []);
  return problems;
}
