import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { SECRET_KEYS, parseDurationMs } from '../../service/src/config/config.ts';
import { repoRoot } from '../../testkit/repo.ts';
import { render } from './kustomize.ts';
import { MANIFEST_DIR, ManifestError, OPERATOR_SECRETS, findKubectl, validateKubernetesManifests, validateResource } from './validate.ts';

/** A whole validation: the schema modules load once (about a second), kubectl renders four times. */
const WHOLE_RUN_MS = 30_000;

const copies: string[] = [];
afterEach(() => {
  for (const dir of copies.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A throwaway repository holding what the validator reads: deploy/k8s, nginx/ and deploy/redis.conf. */
function repoCopy(): string {
  const root = mkdtempSync(join(tmpdir(), 'k8s-validate-'));
  copies.push(root);
  mkdirSync(join(root, 'deploy'));
  cpSync(join(repoRoot, MANIFEST_DIR), join(root, MANIFEST_DIR), { recursive: true });
  cpSync(join(repoRoot, 'deploy/redis.conf'), join(root, 'deploy/redis.conf'));
  cpSync(join(repoRoot, 'nginx'), join(root, 'nginx'), { recursive: true });
  return root;
}

/** Changes a file of the copy (relative to its root); the change must apply. */
function edit(root: string, file: string, change: (text: string) => string): void {
  const before = readFileSync(join(root, file), 'utf8');
  const after = change(before);
  expect({ edited: file, changed: after !== before }).toEqual({ edited: file, changed: true });
  writeFileSync(join(root, file), after);
}

async function problemsOf(promise: Promise<void>): Promise<string> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ManifestError);
  return (error as ManifestError).message;
}

const deployment = (spec: Record<string, unknown>) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'x' },
  spec: {
    selector: { matchLabels: { app: 'x' } },
    template: { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'c', image: 'i' }] } },
    ...spec,
  },
});

describe('the repository manifests', () => {
  it(
    'when checked without rendering, then schemas, kinds, files and the redis.conf copy pass',
    async () => {
      await expect(validateKubernetesManifests({ kubectl: null })).resolves.toBeUndefined();
    },
    WHOLE_RUN_MS,
  );

  it(
    'when the base and every example are rendered with kubectl kustomize, then the output passes too',
    async () => {
      await expect(validateKubernetesManifests()).resolves.toBeUndefined();
    },
    WHOLE_RUN_MS,
  );
});

describe('validateResource', () => {
  it('when a Deployment is well formed, then there is no problem', async () => {
    expect(await validateResource(deployment({ replicas: 3 }), 'x.yaml')).toEqual([]);
  });

  it('when a field is unknown (spec.replicass), then it fails with its path and the API type', async () => {
    const problems = await validateResource(deployment({ replicass: 3 }), 'x.yaml');

    expect(problems).toEqual([
      { where: 'x.yaml', resource: 'Deployment/x', path: 'spec.replicass', message: 'unknown field: DeploymentSpec has no such field in Kubernetes 1.36' },
    ]);
  });

  it('when an unknown field is deep inside the pod template, then its full path is named', async () => {
    const doc = deployment({});
    doc.spec.template.spec.containers[0] = { name: 'c', image: 'i', securityContext: { readOnlyRootFileSystem: true } } as never;

    const problems = await validateResource(doc, 'x.yaml');

    expect(problems.map((p) => p.path)).toEqual(['spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem']);
  });

  it('when a value has the wrong type or is not allowed, then it fails', async () => {
    const problems = await validateResource(deployment({ replicas: 'three', strategy: { type: 'Sometimes' }, minReadySeconds: { seconds: 5 } }), 'x.yaml');

    expect(problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: 'spec.replicas', message: 'must be integer' }),
        expect.objectContaining({ path: 'spec.strategy.type', message: 'must be one of Recreate, RollingUpdate' }),
        expect.objectContaining({ path: 'spec.minReadySeconds', message: 'must be integer' }),
      ]),
    );
  });

  it('when a required field is missing, then it fails', async () => {
    const doc = deployment({});
    delete (doc.spec as Record<string, unknown>).selector;

    expect(await validateResource(doc, 'x.yaml')).toEqual([expect.objectContaining({ path: 'spec.selector', message: 'required field is missing' })]);
  });

  it('when the kind is not one the project deploys (or the apiVersion is old), then it fails instead of being skipped', async () => {
    const job = await validateResource({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j' }, spec: {} }, 'x.yaml');
    const old = await validateResource({ ...deployment({}), apiVersion: 'apps/v1beta1' }, 'x.yaml');
    const custom = await validateResource({ apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: { name: 'c' } }, 'x.yaml');

    for (const problems of [job, old, custom])
      expect(problems).toEqual([expect.objectContaining({ message: expect.stringMatching(/is not one this project deploys/) })]);
  });

  it('when a Secret is in the manifests, then it fails: secrets are never committed', async () => {
    const problems = await validateResource({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, stringData: { a: 'b' } }, 'x.yaml');

    expect(problems).toEqual([expect.objectContaining({ resource: 'Secret/s', message: expect.stringMatching(/never committed/) })]);
  });
});

describe('validateKubernetesManifests on a changed copy of the repository', () => {
  it(
    'when several things are wrong, then one error lists every problem with file, kind/name and path',
    async () => {
      const root = repoCopy();
      edit(root, 'deploy/k8s/service/deployment.yaml', (t) => t.replace('  replicas: 3\n', '  replicass: 3\n'));
      edit(root, 'deploy/k8s/edge/service.yaml', (t) => t.replace('externalTrafficPolicy: Local', 'externalTrafficPolicy: 7'));
      writeFileSync(join(root, 'deploy/k8s/service/job.yaml'), 'apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: j\n');
      edit(root, 'deploy/k8s/service/kustomization.yaml', (t) => t.replace('  - pdb.yaml\n', '  - pdb.yaml\n  - job.yaml\n'));
      writeFileSync(join(root, 'deploy/k8s/forgotten.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: f\n');
      writeFileSync(join(root, 'nginx/snippets/forgotten.conf'), '# in no ConfigMap of the edge\n');
      edit(root, 'deploy/redis.conf', (t) => `${t}# changed without the copy\n`);

      const message = await problemsOf(validateKubernetesManifests({ root, kubectl: null }));

      expect(message).toContain('deploy/k8s/service/deployment.yaml: Deployment/authstack: spec.replicass: unknown field');
      expect(message).toMatch(/deploy\/k8s\/edge\/service.yaml: Service\/authstack-edge: spec.externalTrafficPolicy: must be string/);
      expect(message).toMatch(/deploy\/k8s\/service\/job.yaml: Job\/j: kind "batch\/v1\/Job" is not one this project deploys/);
      expect(message).toMatch(/deploy\/k8s\/forgotten.yaml: no kustomization.yaml lists this file/);
      expect(message).toMatch(/nginx\/snippets\/forgotten.conf: no configMapGenerator uses this file/);
      expect(message).toMatch(/deploy\/k8s\/examples\/redis-single\/redis.conf: differs from deploy\/redis.conf/);
    },
    WHOLE_RUN_MS,
  );

  it(
    'when a kustomization uses a field outside the shared kustomize subset, or a directory under resources:, then it fails',
    async () => {
      const root = repoCopy();
      edit(root, 'deploy/k8s/kustomization.yaml', (t) => `${t.replace(/^bases:/m, 'resources:')}commonLabels:\n  team: auth\n`);

      const message = await problemsOf(validateKubernetesManifests({ root, kubectl: null }));

      expect(message).toMatch(/deploy\/k8s\/kustomization.yaml: commonLabels: field is not allowed here/);
      expect(message).toMatch(/deploy\/k8s\/kustomization.yaml: resources\[0\]: "service" is a directory: it goes under bases:/);
    },
    WHOLE_RUN_MS,
  );

  it(
    'when a value means one thing to kubectl (YAML 1.1) and another to YAML 1.2, then it fails',
    async () => {
      const root = repoCopy();
      edit(root, 'deploy/k8s/service/deployment.yaml', (t) => t.replace('defaultMode: 288', 'defaultMode: 0440'));

      expect(await problemsOf(validateKubernetesManifests({ root, kubectl: null }))).toMatch(
        /Deployment\/authstack: spec.template.spec.volumes\[0\].secret.defaultMode: YAML 1.1 \(kubectl\) and YAML 1.2 read this value differently/,
      );
    },
    WHOLE_RUN_MS,
  );

  it(
    'when a setting in the ConfigMap is misspelt or invalid, then the rendered check names it',
    async () => {
      const root = repoCopy();
      edit(root, 'deploy/k8s/service/kustomization.yaml', (t) =>
        t.replace('- LOG_LEVEL=info', '- LOG_LEVL=info').replace('- SHUTDOWN_TIMEOUT=10s', '- SHUTDOWN_TIMEOUT=soon'),
      );

      const message = await problemsOf(validateKubernetesManifests({ root }));

      expect(message).toMatch(/kustomize build deploy\/k8s: Deployment\/authstack: .*LOG_LEVL is not a setting of the service/);
      expect(message).toMatch(/the service would refuse this configuration: SHUTDOWN_TIMEOUT: expected a duration/);
    },
    WHOLE_RUN_MS,
  );

  it(
    'when a mounted Secret key, a ConfigMap reference or a template variable does not exist, then the rendered check names it',
    async () => {
      const root = repoCopy();
      edit(root, 'deploy/k8s/service/deployment.yaml', (t) => t.replace('/run/secrets/authstack/metrics_token', '/run/secrets/authstack/metrics-token'));
      edit(root, 'deploy/k8s/edge/deployment.yaml', (t) => t.replace('name: authstack-edge-env\n', 'name: authstack-edge-environment\n'));

      const message = await problemsOf(validateKubernetesManifests({ root }));

      expect(message).toMatch(/METRICS_TOKEN_FILE=\/run\/secrets\/authstack\/metrics-token is no key of an operator Secret/);
      expect(message).toMatch(
        /Deployment\/authstack-edge: spec.template.spec.containers\[0\].envFrom\[0\].configMapRef.name: ConfigMap "authstack-edge-environment"/,
      );
      expect(message).toMatch(/Deployment\/authstack-edge: spec.template.spec.containers\[0\].env: nginx authstack.conf.template: \w+ is not set/);
    },
    WHOLE_RUN_MS,
  );
});

/** The contract of issue #12, on the base as kustomize renders it. */
describe('the base (policy)', () => {
  // Manifests are untyped YAML walked deep here; expect() is the type check (as with response bodies).
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  type Obj = Record<string, any>;
  let docs: Obj[] = [];
  beforeAll(async () => {
    docs = (await render(repoRoot, MANIFEST_DIR, findKubectl() ?? 'kubectl')).docs;
  }, WHOLE_RUN_MS);
  /** By name; a generated ConfigMap's name has kustomize's hash appended. */
  const find = (kind: string, name: string): Obj => {
    const doc = docs.find((d) => d.kind === kind && new RegExp(`^${name}(-[a-z0-9]{10})?$`).test(d.metadata.name));
    expect({ [`${kind}/${name} in the base`]: doc !== undefined }).toEqual({ [`${kind}/${name} in the base`]: true });
    return doc as Obj;
  };
  const service = () => find('Deployment', 'authstack');
  const edge = () => find('Deployment', 'authstack-edge');
  const config = () => find('ConfigMap', 'authstack-config').data as Record<string, string>;
  const serviceContainer = () => service().spec.template.spec.containers[0];

  it('runs the service with 3 replicas, spread over nodes', () => {
    expect(service().spec.replicas).toBe(3);
    expect(service().spec.template.spec.topologySpreadConstraints).toEqual(
      expect.arrayContaining([expect.objectContaining({ topologyKey: 'kubernetes.io/hostname', maxSkew: 1 })]),
    );
  });

  it('runs every container non-root (uid 1000 for the service: the image user), read-only, unprivileged, with RuntimeDefault seccomp and resource limits', () => {
    expect(service().spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } });
    expect(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8')).toMatch(/^USER node$/m);
    for (const workload of [service(), edge()]) {
      const pod = workload.spec.template.spec;
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
      expect(pod.automountServiceAccountToken).toBe(false);
      for (const container of pod.containers) {
        expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
        expect(container.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
        expect(container.resources.limits).toMatchObject({ memory: expect.any(String) });
      }
    }
  });

  it('probes liveness on /healthz and readiness on /readyz at the service port, the routes ops.ts serves', () => {
    const ops = readFileSync(join(repoRoot, 'service/src/http/routes/ops.ts'), 'utf8');
    expect(ops).toContain("router.get('/healthz'");
    expect(ops).toContain("router.get('/readyz'");
    const port = serviceContainer().ports.find((p: Obj) => p.name === 'http');
    expect(port.containerPort).toBe(3000);
    expect(serviceContainer().env).toEqual(expect.arrayContaining([{ name: 'PORT', value: String(port.containerPort) }]));
    expect(serviceContainer().livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(serviceContainer().readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(serviceContainer().startupProbe.httpGet.path).toBe('/healthz');
  });

  it('gives the graceful shutdown (drain delay + shutdown timeout) room within terminationGracePeriodSeconds', () => {
    const drainMs = parseDurationMs(config().SHUTDOWN_DRAIN_DELAY!)!;
    const shutdownMs = parseDurationMs(config().SHUTDOWN_TIMEOUT!)!;

    expect(drainMs).toBeGreaterThanOrEqual(5_000);
    expect(service().spec.template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThanOrEqual(drainMs + shutdownMs + 5_000);
  });

  it('hashes on as many threads as the CPU limit allows', () => {
    expect(Number(config().HASH_CONCURRENCY)).toBe(Number(serviceContainer().resources.limits.cpu));
  });

  it('has a PodDisruptionBudget for the service that keeps two of three', () => {
    const pdb = find('PodDisruptionBudget', 'authstack');

    expect(pdb.spec.selector.matchLabels).toEqual(service().spec.selector.matchLabels);
    expect(pdb.spec.minAvailable === 2 || pdb.spec.maxUnavailable === 1).toBe(true);
  });

  it('has NetworkPolicies: default deny for the authstack pods, DNS out, the service reachable only from the edge', () => {
    const deny = find('NetworkPolicy', 'authstack-default-deny');
    expect(deny.spec).toEqual({ podSelector: { matchLabels: { 'app.kubernetes.io/part-of': 'authstack' } }, policyTypes: ['Ingress', 'Egress'] });
    expect(service().spec.template.metadata.labels['app.kubernetes.io/part-of']).toBe('authstack');
    expect(edge().spec.template.metadata.labels['app.kubernetes.io/part-of']).toBe('authstack');

    const dns = find('NetworkPolicy', 'authstack-allow-dns');
    expect(dns.spec.egress[0].ports).toEqual(expect.arrayContaining([{ protocol: 'UDP', port: 53 }]));

    const toService = find('NetworkPolicy', 'authstack-service');
    expect(toService.spec.podSelector.matchLabels).toEqual(service().spec.selector.matchLabels);
    expect(toService.spec.ingress).toEqual([
      { from: [{ podSelector: { matchLabels: edge().spec.selector.matchLabels } }], ports: [{ protocol: 'TCP', port: 3000 }] },
    ]);
  });

  it('inlines no secret: no Secret object, secrets only as files from the operator Secrets, every one with its *_FILE', () => {
    expect(docs.filter((d) => d.kind === 'Secret')).toEqual([]);
    expect(JSON.stringify(docs)).not.toMatch(/secretKeyRef|secretRef/);
    const files = Object.fromEntries(serviceContainer().env.map((e: Obj) => [e.name, e.value]));
    for (const key of SECRET_KEYS) expect(`${key}_FILE=${files[`${key}_FILE`]}`).toMatch(/_FILE=\/run\/secrets\/authstack\//);
    const secretVolumes = [service(), edge()].flatMap((w) => w.spec.template.spec.volumes.filter((v: Obj) => v.secret).map((v: Obj) => v.secret.secretName));
    expect(secretVolumes.sort()).toEqual(['authstack-edge-tls', 'authstack-secrets']);
  });

  it('documents how to create every operator Secret with all its keys', () => {
    const readme = readFileSync(join(repoRoot, MANIFEST_DIR, 'README.md'), 'utf8');
    for (const [name, keys] of Object.entries(OPERATOR_SECRETS)) {
      expect(readme).toMatch(new RegExp(`create secret (generic|tls) ${name} `));
      for (const key of keys) expect(readme).toContain(name === 'authstack-edge-tls' ? key : `--from-file=${key}=`);
    }
  });

  it("proxies through the headless Service (UPSTREAM_MODE=dns) with the same nginx and Redis images as compose, and nginx/'s own files", () => {
    const edgeEnv = find('ConfigMap', 'authstack-edge-env').data;
    const headless = find('Service', 'authstack-headless');
    const upstream = edge().spec.template.spec.containers[0].env.find((e: Obj) => e.name === 'UPSTREAM_ADDR').value;

    expect(edgeEnv.UPSTREAM_MODE).toBe('dns');
    expect(headless.spec.clusterIP).toBe('None');
    expect(upstream).toMatch(/^authstack-headless\.\$\(POD_NAMESPACE\)\.svc\.cluster\.local:3000$/);
    expect(find('Service', 'authstack').spec.type).toBe('ClusterIP');
    const compose = readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8');
    expect(compose).toContain(`image: ${edge().spec.template.spec.containers[0].image}`);
    const redis = readFileSync(join(repoRoot, MANIFEST_DIR, 'examples/redis-single/statefulset.yaml'), 'utf8');
    expect(compose).toContain(`image: ${/image: (\S+)/.exec(redis)![1]}`);
    expect(find('ConfigMap', 'authstack-edge-nginx-snippets').data['tls.conf']).toBe(readFileSync(join(repoRoot, 'nginx/snippets/tls.conf'), 'utf8'));
  });
});
