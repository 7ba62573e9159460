import { basename, dirname } from 'node:path';
import { CONFIG_KEYS, SECRET_KEYS, configIssues } from '../../service/src/config/config.ts';
import { NGINX_TEMPLATE_VARS, type NginxTemplateVars, renderTemplate } from '../../testkit/nginx.ts';
import { type Json, type Problem, asArray, asObject, at, isObject, nameOf, resourceName } from './schema.ts';

/**
 * Checks across the objects of one rendering, which a schema cannot make: it sees one object at a time. Hand-written:
 * no offline tool for them is packaged for npm or Debian 12 (kube-linter and kube-score are not; `kubectl apply
 * --dry-run=server` needs a cluster), and two are this project's own rules, made with its own code.
 */

/** The Secrets the operator creates (deploy/k8s/README.md): manifests may mount these and only these keys. */
export const OPERATOR_SECRETS: Readonly<Record<string, readonly string[]>> = {
  'authstack-secrets': ['session_secrets', 'redis_password', 'metrics_token', 'admin_password'],
  'authstack-edge-tls': ['tls.crt', 'tls.key'],
  'authstack-redis': ['redis-password', 'requirepass.conf'],
};

const objects = (list: unknown): Json[] => asArray(list).map(asObject);
const podOf = (doc: Json): Json => asObject(asObject(doc.spec).template);
const podSpecOf = (doc: Json): Json => asObject(podOf(doc).spec);
const isWorkload = (doc: Json): boolean => doc.kind === 'Deployment' || doc.kind === 'StatefulSet';
const matches = (selector: Json, labels: unknown): boolean =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => asObject(labels)[k] === v);

function volumeAt(doc: Json, container: Json, mountPath: string): Json {
  const mount = objects(container.volumeMounts).find((m) => m.mountPath === mountPath);
  return asObject(objects(podSpecOf(doc).volumes).find((v) => mount && v.name === mount.name));
}

/** Every mapping in a document, with its JSON path. */
function mappings(value: unknown, path = ''): Array<[string, Json]> {
  if (Array.isArray(value)) return value.flatMap((item, i) => mappings(item, at(path, i)));
  if (!isObject(value)) return [];
  return [[path, value], ...Object.entries(value).flatMap(([key, item]) => mappings(item, at(path, key)))];
}

/** The environment a container gets from env and envFrom (ConfigMaps only: secrets are files here). */
function environmentOf(container: Json, configMaps: Map<unknown, Json>): Record<string, unknown> {
  const env: Record<string, unknown> = {};
  for (const from of objects(container.envFrom)) Object.assign(env, configMaps.get(asObject(from.configMapRef).name));
  for (const entry of objects(container.env)) {
    const ref = asObject(asObject(entry.valueFrom).configMapKeyRef);
    env[String(entry.name)] = entry.valueFrom ? configMaps.get(ref.name)?.[String(ref.key)] : entry.value;
  }
  return env;
}

/** The service's own schema (loadConfig) on a service container's environment; secrets as operator Secrets' files. */
function serviceSettings(doc: Json, container: Json, environment: Json, problem: (message: string) => void): void {
  const strings = Object.entries(environment).filter((e): e is [string, string] => typeof e[1] === 'string');
  const env = Object.fromEntries(strings);
  const allowed = new Set<string>([...CONFIG_KEYS, ...SECRET_KEYS.map((k) => `${k}_FILE`)]);
  for (const key of Object.keys(env).filter((k) => !allowed.has(k))) {
    problem(`${key} is not a setting of the service (service/src/config/config.ts)`);
  }
  for (const key of SECRET_KEYS) {
    if (env[key]) problem(`${key} is a secret: set ${key}_FILE to a file from a Secret instead`);
    const file = env[`${key}_FILE`];
    if (!file) continue;
    const secret = String(asObject(volumeAt(doc, container, dirname(file)).secret).secretName);
    if (!OPERATOR_SECRETS[secret]?.includes(basename(file))) {
      problem(`${key}_FILE=${file} is no key of an operator Secret mounted in this container`);
    }
    delete env[`${key}_FILE`];
    // Stands in for the file's content: at least 32 characters, as SESSION_SECRETS wants.
    env[key] = 'k8s-validate-placeholder-secret-0123456789';
  }
  for (const issue of configIssues(env)) problem(`the service would refuse this configuration: ${issue}`);
}

/**
 * What the API server and the kubelet would resolve (ConfigMaps, Secrets, Services, selectors, volumes,
 * ports), the service's settings and the edge's template variables, across the objects of one rendering.
 */
export function crossChecks(docs: Json[], where: string): Problem[] {
  const configMaps = new Map(docs.filter((d) => d.kind === 'ConfigMap').map((d) => [nameOf(d), asObject(d.data)]));
  const service = (name: unknown) => docs.find((d) => d.kind === 'Service' && nameOf(d) === name);
  const problems: Problem[] = [];
  for (const doc of docs) {
    const resource = resourceName(doc);
    const problem = (path: string, message: string) => problems.push({ where, resource, path, message });
    // Wherever they are: env, envFrom, volumes, projected volumes, Ingress TLS and backends.
    for (const [path, m] of mappings(doc)) {
      const field = /\.(configMap|configMapRef|configMapKeyRef|secret)$/.exec(path)?.[1];
      const items = objects(m.items).map(({ key }, i) => [`items[${i}].key`, key]);
      const keys = field === 'configMapKeyRef' ? [['key', m.key]] : items;
      if (field?.startsWith('configMap')) {
        const [data, name] = [configMaps.get(m.name), String(m.name)];
        if (!data && m.optional !== true) problem(`${path}.name`, `ConfigMap "${name}" is not in the output`);
        for (const [sub, key] of keys.filter(([, key]) => data && !(String(key) in data))) {
          problem(`${path}.${String(sub)}`, `ConfigMap "${name}" lacks "${String(key)}"`);
        }
      } else if (field === 'secret' || /^spec\.tls\[\d+\]$/.test(path)) {
        // A volume's secret and an Ingress's tls name it with secretName, a projected volume's secret with name.
        const [nameKey, known] = ['name' in m ? 'name' : 'secretName', Object.keys(OPERATOR_SECRETS).join(', ')];
        const [name, secretKeys] = [String(m[nameKey]), OPERATOR_SECRETS[String(m[nameKey])]];
        if (!secretKeys) problem(`${path}.${nameKey}`, `Secret "${name}" is not one the operator creates (${known})`);
        for (const [sub, key] of keys.filter(([, key]) => secretKeys && !secretKeys.includes(String(key)))) {
          problem(`${path}.${String(sub)}`, `Secret "${name}" has no key "${String(key)}"`);
        }
      } else if (/\.backend\.service$/.test(path)) {
        const [target, port] = [service(m.name), asObject(m.port)];
        const ports = objects(asObject(target?.spec).ports);
        if (!target) problem(`${path}.name`, `Service "${String(m.name)}" is not in the output`);
        else if (!ports.some((p) => (port.name === undefined ? p.port === port.number : p.name === port.name))) {
          problem(`${path}.port`, `Service "${String(m.name)}" has no such port`);
        }
      }
      const inEnvironment = /\.env(From\[\d+\]|\[\d+\]\.valueFrom)$/.test(path);
      for (const key of ['secretKeyRef', 'secretRef'].filter((k) => inEnvironment && k in m)) {
        problem(`${path}.${key}`, 'secrets go in as files (*_FILE), never as environment');
      }
    }
    const spec = asObject(doc.spec);
    if (isWorkload(doc)) {
      const selector = asObject(asObject(spec.selector).matchLabels);
      const labels = asObject(podOf(doc).metadata).labels;
      if (!matches(selector, labels)) problem('spec.selector.matchLabels', 'does not match the pod template labels');
      if (doc.kind === 'StatefulSet' && !service(spec.serviceName)) {
        problem('spec.serviceName', `Service "${String(spec.serviceName)}" is not in the output`);
      }
      const claims = asArray(spec.volumeClaimTemplates).map(nameOf);
      const volumes = new Set([...objects(podSpecOf(doc).volumes).map((v) => v.name), ...claims]);
      for (const group of ['initContainers', 'containers'] as const) {
        objects(podSpecOf(doc)[group]).forEach((container, c) => {
          const path = `spec.template.spec.${group}[${c}]`;
          objects(container.volumeMounts).forEach(({ name }, i) => {
            if (!volumes.has(name)) problem(`${path}.volumeMounts[${i}].name`, `no volume "${String(name)}"`);
          });
          if (group === 'initContainers') return;
          const env = environmentOf(container, configMaps);
          if (/(^|\/)authstack\/service([:@]|$)/.test(String(container.image))) {
            serviceSettings(doc, container, env, (message) => problem(`${path}.env`, message));
          }
          // The nginx image renders /etc/nginx/templates with envsubst and leaves a variable it does not know
          // as `${NAME}`, on which nginx fails at start: the templates must render with the container's
          // environment, by the native stack's renderTemplate (the same variable list).
          const templates = configMaps.get(asObject(volumeAt(doc, container, '/etc/nginx/templates').configMap).name);
          const set = NGINX_TEMPLATE_VARS.map((name) => [name, name in env ? 'set' : '']);
          const vars = Object.fromEntries(set) as NginxTemplateVars;
          try {
            // renderTemplate wants every listed variable for any template: the first failure says it all.
            for (const [name, text] of Object.entries(templates ?? {})) renderTemplate(String(text), vars, name);
          } catch (error) {
            problem(`${path}.env`, (error as Error).message);
          }
        });
      }
    }
    if (doc.kind === 'Service' || doc.kind === 'PodDisruptionBudget') {
      const path = doc.kind === 'Service' ? 'spec.selector' : 'spec.selector.matchLabels';
      const selector = asObject(doc.kind === 'Service' ? spec.selector : asObject(spec.selector).matchLabels);
      const namespace = asObject(doc.metadata).namespace;
      const targets = docs.filter((w) => isWorkload(w) && asObject(w.metadata).namespace === namespace);
      const selected = targets.filter((w) => matches(selector, asObject(podOf(w).metadata).labels));
      if (selected.length === 0) problem(path, 'selects no Deployment or StatefulSet in the output');
      const containers = selected.flatMap((w) => objects(podSpecOf(w).containers));
      const portNames = new Set(containers.flatMap((c) => objects(c.ports).map((p) => p.name)));
      objects(doc.kind === 'Service' ? spec.ports : []).forEach(({ targetPort }, i) => {
        if (typeof targetPort !== 'string' || selected.length === 0 || portNames.has(targetPort)) return;
        problem(`spec.ports[${i}].targetPort`, `no container port named "${targetPort}"`);
      });
    }
  }
  return problems;
}
