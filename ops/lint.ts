import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ensureLocalCertificates } from '../testkit/certs.ts';
import { renderNginx } from '../testkit/nginx.ts';
import { repoRoot } from '../testkit/repo.ts';
import { validateKubernetesManifests } from './k8s/validate.ts';
import { CliError, say } from './lib/log.ts';
import { pinnedNodeVersion } from './lib/node-pin.ts';
import { run } from '../testkit/run.ts';
import { ensureTools } from './lib/tools.ts';
import { nginxArgs, nginxVars } from './native/stack-plan.ts';

const log = (message: string) => say('lint', message);

/** Bash left in scripts/ is thin entry wrappers only (issue #9): this budget keeps it so. */
const BASH_BUDGET_LINES = 300;

/** The *.sh files under `dir`, at any depth, relative to the repository. */
const shellScripts = (dir: string): string[] =>
  readdirSync(join(repoRoot, dir), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.sh'))
    .map((file) => join(dir, file));

async function shellcheck(): Promise<void> {
  const wrappers = shellScripts('scripts');
  const scripts = [...wrappers, ...shellScripts('deploy'), '.ci/run'];
  await run('shellcheck', scripts, { cwd: repoRoot });
  const lines = (file: string) => readFileSync(join(repoRoot, file), 'utf8').split('\n').length - 1;
  const bash = wrappers.reduce((sum, file) => sum + lines(file), 0);
  if (bash >= BASH_BUDGET_LINES)
    throw new CliError(
      `scripts/ holds ${bash} lines of bash (budget ${BASH_BUDGET_LINES}): tooling belongs in ops/ (TypeScript)`,
    );
  log(`shellcheck: ${scripts.length} scripts clean; scripts/ bash ${bash} lines (budget ${BASH_BUDGET_LINES})`);
}

async function yamllint(): Promise<void> {
  const rules =
    '{extends: default, rules: {line-length: {max: 140}, document-start: disable, truthy: {check-keys: false}}}';
  const files = ['docker-compose.yml', 'deploy', 'nginx/kustomization.yaml'];
  await run('yamllint', ['-s', '-d', rules, ...files], { cwd: repoRoot });
  log('yamllint: clean');
}

/** nginx -t on the config exactly as the native stack renders it, in both OCSP/metrics variants. */
async function nginxTest(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'authstack-nginx-'));
  try {
    const certs = ensureLocalCertificates(join(tmp, 'certs'), { quiet: true });
    mkdirSync(join(tmp, 'acme'));
    const ports = { httpsPort: 8443, httpPort: 8080, servicePort: 3000, redisPort: 6379 };
    const tls = { tlsCert: certs.leafCrt, tlsKey: certs.leafKey, publicOrigin: 'https://localhost:8443' };
    for (const variant of ['off', 'on'] as const) {
      const out = join(tmp, `nginx-${variant}`);
      // Both ways nginx can find the service: a static upstream, and DNS re-resolution (swarm).
      const upstream = variant === 'on' ? { UPSTREAM_ADDR: 'localhost:3000', UPSTREAM_MODE: 'dns' } : {};
      renderNginx(out, {
        ...nginxVars({ ...ports, ...tls, tlsMode: 'local', tlsOcsp: variant }, tmp, variant === 'on'),
        ...upstream,
      });
      // With TLS_OCSP=on and a local certificate nginx warns that it cannot staple; syntax and
      // every include are still checked, which is what this is for.
      const result = await run('nginx', ['-t', '-q', ...nginxArgs(out)], { allowFailure: true, stdout: 'ignore' });
      const errors = result.stderr.split('\n').filter((line) => line.trim() && !line.includes('ssl_stapling'));
      if (result.code !== 0)
        throw new CliError(`nginx -t failed on the rendered config (variant ${variant}):\n${errors.join('\n')}`);
    }
    log('nginx -t: the rendered config passes (OCSP, edge metrics and upstream modes, each way)');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** promtool: the Prometheus config (syntax: the token file exists only in the container), the rules and their unit tests. */
async function promtool(): Promise<void> {
  const cwd = join(repoRoot, 'deploy/prometheus');
  const filesIn = (dir: string) => readdirSync(join(cwd, dir)).map((file) => join(dir, file));
  const [rules, tests] = [filesIn('rules'), filesIn('tests')];
  await run('promtool', ['check', 'config', '--syntax-only', 'prometheus.yml'], { cwd });
  await run('promtool', ['check', 'rules', ...rules], { cwd });
  await run('promtool', ['test', 'rules', ...tests], { cwd });
  log(`promtool: config, ${rules.length} rule file(s) and ${tests.length} rule test file(s) pass`);
}

/** The Dockerfile's Node base tag must be the .node-version pin (one version everywhere). */
function nodePin(): void {
  const pin = pinnedNodeVersion();
  const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
  const arg = /^ARG NODE_VERSION=(\S+)$/m.exec(dockerfile)?.[1];
  if (arg !== pin)
    throw new CliError(
      `Dockerfile ARG NODE_VERSION=${arg ?? '(missing)'} but .node-version pins ${pin}: keep them equal`,
    );
  if (!/^FROM node:\$\{NODE_VERSION\}-bookworm-slim/m.test(dockerfile))
    throw new CliError('Dockerfile: base images must be node:${NODE_VERSION}-bookworm-slim');
  log(`node pin: .node-version ${pin} = Dockerfile base tag`);
}

/** Static checks beyond tsc: shell, YAML, nginx, Prometheus, Kubernetes manifests and the Node pin. */
export async function lint(): Promise<void> {
  await ensureTools('shellcheck', 'yamllint', 'nginx', 'promtool', 'mkcert', 'kubectl');
  nodePin();
  await shellcheck();
  await yamllint();
  await nginxTest();
  await promtool();
  await validateKubernetesManifests({ report: log });
  log(`ok (${relative(process.cwd(), repoRoot) || '.'})`);
}
