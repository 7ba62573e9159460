import type { ErrorObject } from 'ajv';

/**
 * One object against the Kubernetes API, offline, from two pinned npm packages generated from its OpenAPI spec (no
 * kubeconform or JSON-schema set is packaged for a Debian 12 machine that reaches only npm and Debian):
 * kubernetes-models' validators (types, required fields, enums, formats) and @kubernetes/client-node's attribute
 * maps (the fields of each type). Upgrade the two together.
 */
export const KUBERNETES_VERSION = '1.36';

/** The kinds this project deploys: anything else is an error, not something skipped. cert-manager.io: its CRDs. */
const KINDS = new Set([
  ...['v1/Namespace', 'v1/ConfigMap', 'v1/Service', 'apps/v1/Deployment', 'apps/v1/StatefulSet'],
  ...['policy/v1/PodDisruptionBudget', 'networking.k8s.io/v1/NetworkPolicy', 'networking.k8s.io/v1/Ingress'],
  ...['cert-manager.io/v1/Issuer', 'cert-manager.io/v1/Certificate'],
]);

/** where: a file relative to the repository root, or `kustomize build <dir>`; path: a JSON path in kind/name. */
export type Problem = { where: string; resource?: string; path?: string; message: string };

export type Json = Record<string, unknown>;
export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
export const asObject = (v: unknown): Json => (isObject(v) ? v : {});
export const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? (v as unknown[]) : []);
const text = (v: unknown): string => (typeof v === 'string' ? v : '?');
export const nameOf = (doc: unknown): unknown => asObject(asObject(doc).metadata).name;
export const resourceName = (doc: unknown): string => `${text(asObject(doc).kind)}/${text(nameOf(doc))}`;

/** A JSON path one step deeper: spec.containers[0], labels["app.kubernetes.io/name"]. */
export function at(path: string, key: string | number): string {
  if (typeof key === 'number' || !/^[A-Za-z_]\w*$/.test(key)) return `${path}[${JSON.stringify(key)}]`;
  return path ? `${path}.${key}` : key;
}

/** An ajv error (kubernetes-models' validators, the kustomization schema) as a JSON path and a message. */
export function describeSchemaError({ instancePath, keyword, params, message }: ErrorObject) {
  const keys = (instancePath.match(/[^/]+/g) ?? []).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const path = keys.reduce((p, key) => at(p, /^\d+$/.test(key) ? Number(key) : key), '');
  const { missingProperty, additionalProperty, allowedValues } = params as Json;
  const field = missingProperty ?? additionalProperty;
  const missing = keyword === 'required' ? 'required field is missing' : 'field is not allowed here';
  if (typeof field === 'string') return { path: at(path, field), message: missing };
  const allowed = asArray(allowedValues).join(', ');
  return { path, message: keyword === 'enum' ? `must be one of ${allowed}` : (message ?? keyword) };
}

type Fields = ReadonlyArray<{ baseName: string; type: string }>;

/** Schema (kubernetes-models) and unknown fields (client-node) of one object; other kinds and Secrets fail. */
export async function validateResource(doc: unknown, where: string): Promise<Problem[]> {
  if (!isObject(doc)) return [{ where, message: 'not a Kubernetes object (a mapping with apiVersion and kind)' }];
  const [resource, apiVersion, kind] = [resourceName(doc), text(doc.apiVersion), text(doc.kind)];
  const problems: Problem[] = [];
  const report = (path: string, message: string) => problems.push({ where, resource, path, message });
  if (kind === 'Secret') report('', 'Secrets are never committed: the operator creates them (deploy/k8s/README.md)');
  else if (!KINDS.has(`${apiVersion}/${kind}`)) {
    report('', `kind "${apiVersion}/${kind}" is not one this project deploys (KINDS in ops/k8s/schema.ts)`);
  }
  if (problems.length > 0) return problems;

  type Model = new (data: never) => { validate(): void };
  const crd = apiVersion.startsWith('cert-manager.io/');
  const models = crd ? '@kubernetes-models/cert-manager' : 'kubernetes-models';
  const module = (await import(`${models}/${apiVersion}/${kind}`)) as Record<string, Model>;
  try {
    new module[kind]!(doc as never).validate();
  } catch (error) {
    const errors = (error as { errors?: ErrorObject[] }).errors;
    if (!Array.isArray(errors)) throw error;
    const unique = new Map(errors.map(describeSchemaError).map((d) => [d.path + d.message, d]));
    for (const { path, message } of unique.values()) report(path, message);
  }
  // The generated CRD models let unknown fields through, and client-node has no types for them.
  if (crd) return problems;

  const client = await import('@kubernetes/client-node/dist/gen/models/all.js');
  const types = client as unknown as Record<string, { getAttributeTypeMap?: () => Fields } | undefined>;
  // Hand-written: fields the API type does not define, at any depth (kubeconform -strict, kubectl's strict field
  // validation). kubernetes-models ships no JSON schemas to compile again with additionalProperties: false, only
  // ajv's generated code, which lets unknown fields through.
  const walk = (value: unknown, type: string, path: string): void => {
    const [array, map] = [/^Array<(.+)>$/.exec(type), /^\{ \[key: string\]: (.+); \}$/.exec(type)];
    if (array) asArray(value).forEach((item, i) => walk(item, array[1]!, at(path, i)));
    if (map) for (const [key, item] of Object.entries(asObject(value))) walk(item, map[1]!, at(path, key));
    const fields = types[type]?.getAttributeTypeMap?.();
    // Scalars, int-or-string, free-form JSON, and wrong types (the schema check reports those).
    if (!fields || !isObject(value)) return;
    for (const [key, item] of Object.entries(value)) {
      const field = fields.find((f) => f.baseName === key);
      const typeName = type.replace(/^V\d\w*?(?=[A-Z][a-z])/, '');
      if (field) walk(item, field.type, at(path, key));
      else report(at(path, key), `unknown field: ${typeName} has no such field in Kubernetes ${KUBERNETES_VERSION}`);
    }
  };
  // The client's name for the type: V1Deployment for apps/v1 Deployment, V1beta1... for v1beta1.
  const type = `V${apiVersion.split('/').pop()!.slice(1)}${kind}`;
  if (!types[type]?.getAttributeTypeMap) throw new Error(`client-node has no ${type}: unknown fields would pass`);
  walk(doc, type, '');
  return problems;
}
