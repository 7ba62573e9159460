import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, jest } from '@jest/globals';
import { SECRET_KEYS } from '../../service/src/config/config.ts';
import { parseDurationMs } from '../../service/src/config/setting-types.ts';
import { repoRoot } from '../../testkit/repo.ts';
import { suiteScratchDir } from '../../testkit/scratch-dir.ts';
import { CliError } from '../lib/log.ts';
import { OPERATOR_SECRETS } from './references.ts';
import { validateResource } from './schema.ts';
import { render } from './kustomize.ts';
import { MANIFEST_DIR, validateKubernetesManifests } from './validate.ts';

// Manifests are untyped YAML walked deep here; expect() is the type check (as with response bodies).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;
// A whole validation: the schema modules load once (about a second), kubectl renders four times.
jest.setTimeout(30_000);
const read = (file: string, root = repoRoot) => readFileSync(join(root, file), 'utf8');

it.each([
  ['without rendering (schemas, kinds, files and the redis.conf copy)', null],
  ['rendered with kubectl kustomize, the base and every example', undefined],
])('the repository manifests pass, %s', async (_, kubectl) => {
  await expect(validateKubernetesManifests({ kubectl })).resolves.toBeUndefined();
});

const labels = { app: 'x' };
const deployment = (spec: Obj = {}, container: Obj = {}) => {
  const template = { metadata: { labels }, spec: { containers: [{ name: 'c', image: 'i', ...container }] } };
  const fields = { selector: { matchLabels: labels }, template, ...spec };
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' }, spec: fields };
};
const UNKNOWN = 'unknown field: DeploymentSpec has no such field in Kubernetes 1.36';
const at = (path: string, message: unknown = expect.anything(), resource: unknown = expect.anything()) =>
  expect.objectContaining({ path, message, resource });
const notDeployed = [at('', expect.stringMatching(/is not one this project deploys/))];
const issuerRef = { name: 'letsencrypt', kind: 'Issuer' };
const certificate = (spec: Obj = {}) => {
  const fields = { secretName: 's', dnsNames: ['auth.example.com'], issuerRef, ...spec };
  return { apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: { name: 'c' }, spec: fields };
};

it.each<[string, Obj, unknown]>([
  ['passes a well-formed Deployment', deployment({ replicas: 3 }), []],
  [
    'fails on an unknown field, with its path and the API type',
    deployment({ replicass: 3 }),
    [{ where: 'x.yaml', resource: 'Deployment/x', path: 'spec.replicass', message: UNKNOWN }],
  ],
  [
    'fails on an unknown field deep inside the pod template, with its full path',
    deployment({}, { securityContext: { readOnlyRootFileSystem: true } }),
    [at('spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem')],
  ],
  [
    'fails on a value of the wrong type or not allowed',
    deployment({ replicas: 'three', strategy: { type: 'Sometimes' }, minReadySeconds: { seconds: 5 } }),
    expect.arrayContaining([
      at('spec.replicas', 'must be integer'),
      at('spec.strategy.type', 'must be one of Recreate, RollingUpdate'),
      at('spec.minReadySeconds', 'must be integer'),
    ]),
  ],
  ['fails on a missing field', deployment({ selector: undefined }), [at('spec.selector', 'required field is missing')]],
  ['fails on a kind the project does not deploy', { apiVersion: 'batch/v1', kind: 'Job' }, notDeployed],
  ['fails on an old apiVersion', { ...deployment(), apiVersion: 'apps/v1beta1' }, notDeployed],
  ['fails on a custom resource', { apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor' }, notDeployed],
  ['passes a well-formed cert-manager Certificate', certificate(), []],
  [
    'fails on a cert-manager Certificate without its Secret name and with a wrong type',
    certificate({ secretName: undefined, dnsNames: 'auth.example.com' }),
    expect.arrayContaining([
      at('spec.secretName', 'required field is missing', 'Certificate/c'),
      at('spec.dnsNames', 'must be array', 'Certificate/c'),
    ]),
  ],
  [
    'fails on a Secret: secrets are never committed',
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, stringData: { a: 'b' } },
    [at('', expect.stringMatching(/never committed/), 'Secret/s')],
  ],
])('validateResource %s', async (_, doc, expected) => {
  expect(await validateResource(doc, 'x.yaml')).toEqual(expected);
});

const copies = suiteScratchDir('k8s-validate-');
/** A file of the copy (relative to its root), and its change: every change must apply. */
type Edit = [string, (text: string) => string];
const replace = (file: string, from: string | RegExp, to: string): Edit => [file, (text) => text.replace(from, to)];
const append = (file: string, more: string): Edit => [file, (text) => text + more];
const [serviceYaml, edgeYaml] = ['deploy/k8s/service/deployment.yaml', 'deploy/k8s/edge/deployment.yaml'];
const EDGE = 'Deployment/authstack-edge: spec.template.spec.containers[0]';
const [base, serviceKustomization] = ['deploy/k8s/kustomization.yaml', 'deploy/k8s/service/kustomization.yaml'];

it.each<[string, Edit[], 'render' | 'static', Array<string | RegExp>]>([
  [
    'several things are wrong, then one error lists every problem with file, kind/name and path',
    [
      replace(serviceYaml, '  replicas: 3\n', '  replicass: 3\n'),
      replace('deploy/k8s/edge/service.yaml', 'externalTrafficPolicy: Local', 'externalTrafficPolicy: 7'),
      append('deploy/k8s/service/job.yaml', 'apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: j\n'),
      replace(serviceKustomization, '  - pdb.yaml\n', '  - pdb.yaml\n  - job.yaml\n'),
      append('deploy/k8s/forgotten.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: f\n'),
      append('nginx/snippets/forgotten.conf', '# in no ConfigMap of the edge\n'),
      append('deploy/redis.conf', '# changed without the copy\n'),
    ],
    'static',
    [
      `${serviceYaml}: Deployment/authstack: spec.replicass: unknown field`,
      'deploy/k8s/edge/service.yaml: Service/authstack-edge: spec.externalTrafficPolicy: must be string',
      'deploy/k8s/service/job.yaml: Job/j: kind "batch/v1/Job" is not one this project deploys',
      'deploy/k8s/forgotten.yaml: no kustomization.yaml lists this file',
      'nginx/snippets/forgotten.conf: no configMapGenerator uses this file',
      'deploy/k8s/examples/redis-single/redis.conf: differs from deploy/redis.conf',
    ],
  ],
  [
    'a kustomization uses a field outside the shared kustomize subset, or a directory under resources:, then it fails',
    [replace(base, /^bases:/m, 'resources:'), append(base, 'commonLabels:\n  team: auth\n')],
    'static',
    [
      'deploy/k8s/kustomization.yaml: commonLabels: field is not allowed here',
      'deploy/k8s/kustomization.yaml: resources[0]: "service" is a directory: it goes under bases:',
    ],
  ],
  [
    'a value means one thing to kubectl (YAML 1.1) and another to YAML 1.2, then it fails',
    [replace(serviceYaml, 'defaultMode: 288', 'defaultMode: 0440')],
    'static',
    ['Deployment/authstack: spec.template.spec.volumes[0].secret.defaultMode: YAML 1.1 (kubectl) and YAML 1.2 read'],
  ],
  [
    'a setting in the ConfigMap is misspelt or invalid, then the rendered check names it',
    [[serviceKustomization, (t) => t.replace('LOG_LEVEL=', 'LOG_LEVL=').replace('TIMEOUT=10s', 'TIMEOUT=soon')]],
    'render',
    [
      /kustomize build deploy\/k8s: Deployment\/authstack: .*LOG_LEVL is not a setting of the service/,
      'the service would refuse this configuration: SHUTDOWN_TIMEOUT: expected a duration',
    ],
  ],
  [
    'a mounted Secret key, a ConfigMap or a template variable does not exist, then the rendered check names it',
    [replace(serviceYaml, 'metrics_token\n', 'metrics-token\n'), replace(edgeYaml, 'edge-env\n', 'edge-environment\n')],
    'render',
    [
      'METRICS_TOKEN_FILE=/run/secrets/authstack/metrics-token is no key of an operator Secret',
      `${EDGE}.envFrom[0].configMapRef.name: ConfigMap "authstack-edge-environment" is not in the output`,
      /Deployment\/authstack-edge: .*containers\[0\].env: nginx authstack.conf.template: \w+ is not set/,
    ],
  ],
])('validateKubernetesManifests on a changed copy: when %s', async (_, edits, mode, expected) => {
  const root = mkdtempSync(join(copies, 'copy-'));
  for (const dir of ['deploy', 'nginx']) cpSync(join(repoRoot, dir), join(root, dir), { recursive: true });
  for (const [file, change] of edits) {
    const before = existsSync(join(root, file)) ? read(file, root) : '';
    expect({ file, changed: change(before) !== before }).toEqual({ file, changed: true });
    writeFileSync(join(root, file), change(before));
  }
  const kubectl = mode === 'static' ? null : undefined;
  const error = await validateKubernetesManifests({ root, kubectl }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(CliError);
  for (const pattern of expected) expect((error as Error).message).toMatch(pattern);
});

/** The contract of issue #12, on the base as kustomize renders it. */
describe('the base (policy)', () => {
  let docs: Obj[] = [];
  beforeAll(async () => {
    docs = (await render(repoRoot, MANIFEST_DIR, process.env.KUBECTL || 'kubectl')).docs;
  });
  /** By name; a generated ConfigMap's name has kustomize's hash appended. */
  const find = (kind: string, name: string): Obj => {
    const doc = docs.find((d) => d.kind === kind && new RegExp(`^${name}(-[a-z0-9]{10})?$`).test(d.metadata.name));
    if (doc) return doc;
    throw new Error(`${kind}/${name} is not in the base`);
  };
  const [service, edge] = [() => find('Deployment', 'authstack'), () => find('Deployment', 'authstack-edge')];
  const [servicePod, edgePod] = [() => service().spec.template.spec, () => edge().spec.template.spec];
  const config = () => find('ConfigMap', 'authstack-config').data as Record<string, string>;
  const serviceContainer = () => servicePod().containers[0];

  it('runs the service with 3 replicas, spread over nodes, with a PodDisruptionBudget that keeps two of three', () => {
    expect(service().spec.replicas).toBe(3);
    const spread = expect.objectContaining({ topologyKey: 'kubernetes.io/hostname', maxSkew: 1 });
    expect(servicePod().topologySpreadConstraints).toEqual(expect.arrayContaining([spread]));
    const pdb = find('PodDisruptionBudget', 'authstack');
    expect(pdb.spec.selector.matchLabels).toEqual(service().spec.selector.matchLabels);
    expect(pdb.spec.minAvailable === 2 || pdb.spec.maxUnavailable === 1).toBe(true);
  });

  it('runs every container non-root (the service as the image user), read-only, unprivileged, with limits', () => {
    const pod = { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } };
    const locked = { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } };
    expect(servicePod().securityContext).toMatchObject({ ...pod, runAsUser: 1000 });
    expect(read('Dockerfile')).toMatch(/^USER node$/m);
    for (const { securityContext, automountServiceAccountToken, containers } of [servicePod(), edgePod()]) {
      expect(securityContext).toMatchObject(pod);
      expect(securityContext.runAsUser).toBeGreaterThan(0);
      expect(automountServiceAccountToken).toBe(false);
      for (const { securityContext, resources } of containers) {
        expect(securityContext).toMatchObject(locked);
        expect(resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
        expect(resources.limits).toMatchObject({ memory: expect.any(String) });
      }
    }
  });

  it('probes liveness on /healthz and readiness on /readyz at the service port, the routes ops.ts serves', () => {
    const ops = read('service/src/http/routes/ops.ts');
    for (const route of ['/healthz', '/readyz']) expect(ops).toContain(`router.get('${route}'`);
    const port = serviceContainer().ports.find((p: Obj) => p.name === 'http');
    expect(port.containerPort).toBe(3000);
    expect(serviceContainer().env).toContainEqual({ name: 'PORT', value: String(port.containerPort) });
    expect(serviceContainer().livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(serviceContainer().readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(serviceContainer().startupProbe.httpGet.path).toBe('/healthz');
  });

  it('gives the graceful shutdown room in terminationGracePeriodSeconds, and hashes on as many threads as CPUs', () => {
    const drainMs = parseDurationMs(config().SHUTDOWN_DRAIN_DELAY!)!;
    const shutdownMs = parseDurationMs(config().SHUTDOWN_TIMEOUT!)!;
    expect(drainMs).toBeGreaterThanOrEqual(5_000);
    expect(servicePod().terminationGracePeriodSeconds * 1000).toBeGreaterThanOrEqual(drainMs + shutdownMs + 5_000);
    expect(Number(config().HASH_CONCURRENCY)).toBe(Number(serviceContainer().resources.limits.cpu));
  });

  it('has NetworkPolicies: default deny for the authstack pods, DNS out, the service only from the edge', () => {
    const partOf = { matchLabels: { 'app.kubernetes.io/part-of': 'authstack' } };
    const deny = find('NetworkPolicy', 'authstack-default-deny');
    expect(deny.spec).toEqual({ podSelector: partOf, policyTypes: ['Ingress', 'Egress'] });
    for (const w of [service(), edge()]) expect(w.spec.template.metadata.labels).toMatchObject(partOf.matchLabels);
    const dns = find('NetworkPolicy', 'authstack-allow-dns');
    expect(dns.spec.egress[0].ports).toEqual(expect.arrayContaining([{ protocol: 'UDP', port: 53 }]));
    const toService = find('NetworkPolicy', 'authstack-service');
    expect(toService.spec.podSelector.matchLabels).toEqual(service().spec.selector.matchLabels);
    const fromEdge = [{ podSelector: { matchLabels: edge().spec.selector.matchLabels } }];
    expect(toService.spec.ingress).toEqual([{ from: fromEdge, ports: [{ protocol: 'TCP', port: 3000 }] }]);
  });

  it('inlines no secret: secrets as files from the operator Secrets, each with its *_FILE, each documented', () => {
    expect(docs.filter((d) => d.kind === 'Secret')).toEqual([]);
    expect(JSON.stringify(docs)).not.toMatch(/secretKeyRef|secretRef/);
    const files = Object.fromEntries(serviceContainer().env.map((e: Obj) => [e.name, e.value]));
    const inSecrets = expect.stringMatching(/^\/run\/secrets\/authstack\//);
    expect(files).toMatchObject(Object.fromEntries(SECRET_KEYS.map((key) => [`${key}_FILE`, inSecrets])));
    const volumes = [servicePod(), edgePod()].flatMap((pod) => pod.volumes.filter((v: Obj) => v.secret));
    expect(volumes.map((v: Obj) => v.secret.secretName).sort()).toEqual(['authstack-edge-tls', 'authstack-secrets']);
    const readme = read(`${MANIFEST_DIR}/README.md`);
    for (const [name, keys] of Object.entries(OPERATOR_SECRETS)) {
      expect(readme).toMatch(new RegExp(`create secret (generic|tls) ${name} `));
      for (const key of keys) expect(readme).toContain(name === 'authstack-edge-tls' ? key : `--from-file=${key}=`);
    }
  });

  it("proxies by the headless Service (UPSTREAM_MODE=dns); compose's nginx and Redis images; nginx/'s files", () => {
    const upstream = edgePod().containers[0].env.find((e: Obj) => e.name === 'UPSTREAM_ADDR').value;
    expect(find('ConfigMap', 'authstack-edge-env').data.UPSTREAM_MODE).toBe('dns');
    expect(find('Service', 'authstack-headless').spec.clusterIP).toBe('None');
    expect(upstream).toMatch(/^authstack-headless\.\$\(POD_NAMESPACE\)\.svc\.cluster\.local:3000$/);
    expect(find('Service', 'authstack').spec.type).toBe('ClusterIP');
    const [compose, redis] = [read('docker-compose.yml'), read('deploy/k8s/examples/redis-single/statefulset.yaml')];
    expect(compose).toContain(`image: ${edgePod().containers[0].image}`);
    expect(compose).toContain(`image: ${/image: (\S+)/.exec(redis)![1]}`);
    expect(find('ConfigMap', 'authstack-edge-nginx-snippets').data['tls.conf']).toBe(read('nginx/snippets/tls.conf'));
  });
});
