import { basename, dirname } from 'node:path';
import { CONFIG_KEYS, ConfigError, SECRET_KEYS, loadConfig } from '../../service/src/config/config.ts';
import { NGINX_TEMPLATE_VARS, type NginxTemplateVars, renderTemplate } from '../../testkit/nginx.ts';
import { type Json, type Problem, asArray, asObject, asString, isObject, resourceName } from './schema.ts';

/**
 * Checks across the objects of one rendering, which a schema cannot make: it sees one object at a
 * time. Hand-written: no offline tool for them is packaged for npm or Debian 12 (kube-linter and
 * kube-score are not; `kubectl apply --dry-run=server` needs a cluster), and two are this
 * project's own rules, made with its own code (the service's loadConfig, the edge's renderTemplate).
 */

/**
 * Secrets the operator creates (deploy/k8s/README.md), with their keys: manifests may mount these
 * and only these keys. No Secret object is ever in the repository.
 */
export const OPERATOR_SECRETS: Readonly<Record<string, readonly string[]>> = {
  'authstack-secrets': ['session_secrets', 'redis_password', 'metrics_token', 'admin_password'],
  'authstack-edge-tls': ['tls.crt', 'tls.key'],
  'authstack-redis': ['redis-password', 'requirepass.conf'],
};

type ConfigMaps = Map<unknown, Json>;
const objects = (list: unknown): Json[] => asArray(list).map(asObject);
const nameOf = (doc: unknown): unknown => asObject(asObject(doc).metadata).name;
const podOf = (doc: Json): Json => asObject(asObject(doc.spec).template);
const podSpecOf = (doc: Json): Json => asObject(podOf(doc).spec);
const isWorkload = (doc: Json): boolean => doc.kind === 'Deployment' || doc.kind === 'StatefulSet';
const matches = (selector: Json, labels: unknown): boolean =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => asObject(labels)[k] === v);

/** The pod's volume mounted at mountPath in the container. */
function volumeAt(doc: Json, container: Json, mountPath: string): Json {
  const mount = objects(container.volumeMounts).find((m) => m.mountPath === mountPath);
  return asObject(objects(podSpecOf(doc).volumes).find((v) => mount && v.name === mount.name));
}

/** Every mapping in a document, with its JSON path. */
function mappings(value: unknown, path = ''): Array<[string, Json]> {
  if (Array.isArray(value)) return value.flatMap((item, i) => mappings(item, `${path}[${i}]`));
  if (!isObject(value)) return [];
  return [[path, value], ...Object.entries(value).flatMap(([key, item]) => mappings(item, path ? `${path}.${key}` : key))];
}

/** The environment a container gets from env and envFrom (ConfigMaps only: secrets are files here). */
function environmentOf(container: Json, configMaps: ConfigMaps): Record<string, unknown> {
  const env: Record<string, unknown> = {};
  for (const from of objects(container.envFrom)) Object.assign(env, configMaps.get(asObject(from.configMapRef).name));
  for (const entry of objects(container.env)) {
    const ref = asObject(asObject(entry.valueFrom).configMapKeyRef);
    env[String(entry.name)] = entry.valueFrom ? configMaps.get(ref.name)?.[String(ref.key)] : entry.value;
  }
  return env;
}

/** What the API server and the kubelet would resolve: ConfigMaps, Secrets, selectors, volumes, ports. */
function references(docs: Json[], where: string, configMaps: ConfigMaps): Problem[] {
  const problems: Problem[] = [];
  for (const doc of docs) {
    const problem = (path: string, message: string) => problems.push({ where, resource: resourceName(doc), path, message });
    const configMapKey = (path: string, ref: Json, key?: unknown) => {
      const data = configMaps.get(ref.name);
      if (!data && ref.optional !== true) problem(path, `ConfigMap "${String(ref.name)}" is not in the output`);
      else if (typeof key === 'string' && data && !(key in data)) problem(path, `ConfigMap "${String(ref.name)}" lacks "${key}"`);
    };
    const secretKey = (path: string, name: unknown, key?: unknown) => {
      const keys = OPERATOR_SECRETS[String(name)];
      const operators = Object.keys(OPERATOR_SECRETS).join(', ');
      if (!keys) problem(path, `Secret "${String(name)}" is none of the operator's Secrets (${operators}; README.md)`);
      else if (typeof key === 'string' && !keys.includes(key)) problem(path, `Secret "${String(name)}" has no key "${key}"`);
    };
    // Wherever they are: env, envFrom, volumes, projected volumes.
    for (const [path, m] of mappings(doc)) {
      const { configMapKeyRef, configMapRef, configMap, secret } = m;
      if (isObject(configMapKeyRef)) configMapKey(`${path}.configMapKeyRef`, configMapKeyRef, configMapKeyRef.key);
      if (isObject(configMapRef)) configMapKey(`${path}.configMapRef.name`, configMapRef);
      if (isObject(configMap)) configMapKey(`${path}.configMap.name`, configMap);
      const items = (source: unknown) => objects(asObject(source).items).map(({ key }, i) => [`items[${i}].key`, key] as const);
      for (const [at, key] of items(configMap)) configMapKey(`${path}.configMap.${at}`, asObject(configMap), key);
      // A volume's secret says secretName, a projected volume's says name.
      const secretName = asObject(secret).secretName ?? asObject(secret).name;
      if (isObject(secret)) secretKey(`${path}.secret.secretName`, secretName);
      for (const [at, key] of items(secret)) secretKey(`${path}.secret.${at}`, secretName, key);
      const inEnvironment = /\.env(From\[\d+\]|\[\d+\]\.valueFrom)$/.test(path);
      for (const key of ['secretKeyRef', 'secretRef'].filter((k) => inEnvironment && k in m)) {
        problem(`${path}.${key}`, 'secrets go in as files (*_FILE), never as environment');
      }
    }
    const spec = asObject(doc.spec);
    if (isWorkload(doc)) {
      const labels = asObject(podOf(doc).metadata).labels;
      const selector = asObject(asObject(spec.selector).matchLabels);
      if (!matches(selector, labels)) problem('spec.selector.matchLabels', 'does not match the pod template labels');
      if (doc.kind === 'StatefulSet' && !docs.some((d) => d.kind === 'Service' && nameOf(d) === spec.serviceName)) {
        problem('spec.serviceName', `Service "${String(spec.serviceName)}" is not in the output`);
      }
      const claims = asArray(spec.volumeClaimTemplates).map(nameOf);
      const volumes = new Set([...objects(podSpecOf(doc).volumes).map((v) => v.name), ...claims]);
      for (const group of ['initContainers', 'containers'] as const) {
        objects(podSpecOf(doc)[group]).forEach((container, c) => {
          objects(container.volumeMounts).forEach(({ name }, i) => {
            const path = `spec.template.spec.${group}[${c}].volumeMounts[${i}].name`;
            if (!volumes.has(name)) problem(path, `no volume "${String(name)}"`);
          });
        });
      }
    }
    if (doc.kind === 'Ingress') {
      objects(spec.tls).forEach((tls, i) => secretKey(`spec.tls[${i}].secretName`, tls.secretName));
      objects(spec.rules).forEach((rule, r) =>
        objects(asObject(rule.http).paths).forEach((entry, p) => {
          const backend = asObject(asObject(entry.backend).service);
          const [port, path] = [asObject(backend.port), `spec.rules[${r}].http.paths[${p}].backend.service`];
          const target = docs.find((d) => d.kind === 'Service' && nameOf(d) === backend.name);
          const ports = objects(asObject(target?.spec).ports);
          if (!target) problem(`${path}.name`, `Service "${String(backend.name)}" is not in the output`);
          else if (!ports.some((sp) => (port.name !== undefined ? sp.name === port.name : sp.port === port.number))) {
            problem(`${path}.port`, `Service "${String(backend.name)}" has no such port`);
          }
        }),
      );
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

/**
 * The nginx image renders /etc/nginx/templates with envsubst and leaves a variable it does not
 * know as `${NAME}`, on which nginx then fails at start: the mounted templates must render with
 * the container's environment, by the native stack's renderTemplate (the same variable list).
 */
function templateVariables(docs: Json[], where: string, configMaps: ConfigMaps): Problem[] {
  const problems: Problem[] = [];
  for (const doc of docs.filter(isWorkload)) {
    objects(podSpecOf(doc).containers).forEach((container, c) => {
      const templates = configMaps.get(asObject(volumeAt(doc, container, '/etc/nginx/templates').configMap).name);
      if (!templates) return;
      const env = environmentOf(container, configMaps);
      const vars = Object.fromEntries(NGINX_TEMPLATE_VARS.map((name) => [name, name in env ? 'set' : '']));
      try {
        // renderTemplate wants every listed variable for any template: the first failure says it all.
        for (const [key, text] of Object.entries(templates)) renderTemplate(String(text), vars as NginxTemplateVars, key);
      } catch (error) {
        const path = `spec.template.spec.containers[${c}].env`;
        problems.push({ where, resource: resourceName(doc), path, message: (error as Error).message });
      }
    });
  }
  return problems;
}

/** Stand-ins for the secret files (the operator's Secrets) that satisfy the service's schema. */
const PLACEHOLDER_SECRETS: Record<string, string> = {
  SESSION_SECRETS: 'k8s-validate-placeholder-session-secret-0123456789',
};

/** The service's own configuration schema (loadConfig) on the environment a rendered service pod gets. */
function serviceConfiguration(docs: Json[], where: string, configMaps: ConfigMaps): Problem[] {
  const problems: Problem[] = [];
  const allowed = new Set<string>([...CONFIG_KEYS, ...SECRET_KEYS.map((k) => `${k}_FILE`)]);
  for (const doc of docs.filter(isWorkload)) {
    objects(podSpecOf(doc).containers).forEach((container, c) => {
      if (!/(^|\/)authstack\/service([:@]|$)/.test(asString(container.image) ?? '')) return;
      const path = `spec.template.spec.containers[${c}].env`;
      const problem = (message: string) => problems.push({ where, resource: resourceName(doc), path, message });
      const defined = Object.entries(environmentOf(container, configMaps));
      const env = Object.fromEntries(defined.filter((e): e is [string, string] => typeof e[1] === 'string'));
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
        env[key] = PLACEHOLDER_SECRETS[key] ?? 'placeholder';
      }
      try {
        loadConfig(env);
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        for (const issue of error.issues) problem(`the service would refuse this configuration: ${issue}`);
      }
    });
  }
  return problems;
}

/** Every check across the objects of one rendering. */
export function crossChecks(docs: Json[], where: string): Problem[] {
  const configMaps: ConfigMaps = new Map(docs.filter((d) => d.kind === 'ConfigMap').map((d) => [nameOf(d), asObject(d.data)]));
  return [references, serviceConfiguration, templateVariables].flatMap((check) => check(docs, where, configMaps));
}
