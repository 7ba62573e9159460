import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ensureLocalCertificates } from '../testkit/certs.ts';
import { CliError, say } from './lib/log.ts';
import { pinnedNodeVersion } from './lib/node-pin.ts';
import { repoRoot } from '../testkit/repo.ts';
import { run } from './lib/run.ts';
import { validateKubernetesManifests } from './k8s/validate.ts';
import { ensureTools } from './lib/tools.ts';
import { nginxGlobals, renderNginx } from '../testkit/nginx.ts';

const log = (message: string) => say('lint', message);

/** Bash left in scripts/ is thin entry wrappers only (issue #9): this budget keeps it so. */
const BASH_BUDGET_LINES = 300;

function filesUnder(dir: string, match: (name: string) => boolean): string[] {
  const abs = join(repoRoot, dir);
  return readdirSync(abs).flatMap((name) => {
    const path = join(abs, name);
    if (statSync(path).isDirectory()) return filesUnder(join(dir, name), match);
    return match(name) ? [join(dir, name)] : [];
  });
}

async function shellcheck(): Promise<void> {
  const scripts = [
    ...filesUnder('scripts', (n) => n.endsWith('.sh')),
    ...filesUnder('deploy', (n) => n.endsWith('.sh')),
    '.ci/run',
  ];
  await run('shellcheck', scripts, { cwd: repoRoot });
  const bash = filesUnder('scripts', (n) => n.endsWith('.sh')).reduce(
    (sum, file) => sum + readFileSync(join(repoRoot, file), 'utf8').split('\n').length - 1,
    0,
  );
  if (bash >= BASH_BUDGET_LINES)
    throw new CliError(
      `scripts/ holds ${bash} lines of bash (budget ${BASH_BUDGET_LINES}): tooling belongs in ops/ (TypeScript)`,
    );
  log(`shellcheck: ${scripts.length} scripts clean; scripts/ bash ${bash} lines (budget ${BASH_BUDGET_LINES})`);
}

async function yamllint(): Promise<void> {
  const rules =
    '{extends: default, rules: {line-length: {max: 140}, document-start: disable, truthy: {check-keys: false}}}';
  await run('yamllint', ['-s', '-d', rules, 'docker-compose.yml', 'deploy', 'nginx/kustomization.yaml'], {
    cwd: repoRoot,
  });
  log('yamllint: clean');
}

/** nginx -t on the config exactly as the native stack renders it, in both OCSP/metrics variants. */
async function nginxTest(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'authstack-nginx-'));
  try {
    const certs = ensureLocalCertificates(join(tmp, 'certs'), { quiet: true });
    mkdirSync(join(tmp, 'acme'));
    for (const variant of ['off', 'on'] as const) {
      const out = join(tmp, `nginx-${variant}`);
      renderNginx(out, {
        UPSTREAM_ADDR: variant === 'off' ? '127.0.0.1:3000' : 'localhost:3000',
        // Both ways nginx can find the service: a static upstream, and DNS re-resolution (swarm).
        UPSTREAM_MODE: variant === 'off' ? 'static' : 'dns',
        UPSTREAM_RESOLVER: '127.0.0.1',
        NGINX_HTTP_LISTEN: '127.0.0.1:8080',
        NGINX_HTTPS_LISTEN: '127.0.0.1:8443',
        PUBLIC_ORIGIN: 'https://localhost:8443',
        TLS_CERT: certs.leafCrt,
        TLS_KEY: certs.leafKey,
        TLS_OCSP: variant,
        ACME_WEBROOT: join(tmp, 'acme'),
        METRICS_AT_EDGE: variant,
      });
      // With TLS_OCSP=on and a local certificate nginx warns that it cannot staple; syntax and
      // every include are still checked, which is what this is for.
      const result = await run(
        'nginx',
        ['-t', '-q', '-p', `${out}/`, '-c', join(out, 'nginx.conf'), '-g', nginxGlobals(out)],
        {
          allowFailure: true,
          ignoreStdout: true,
        },
      );
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
  await run('promtool', ['check', 'config', '--syntax-only', 'prometheus.yml'], { cwd });
  const rules = readdirSync(join(cwd, 'rules')).map((f) => join('rules', f));
  await run('promtool', ['check', 'rules', ...rules], { cwd });
  const tests = readdirSync(join(cwd, 'tests')).map((f) => join('tests', f));
  const result = await run('promtool', ['test', 'rules', ...tests], { cwd });
  log(
    `promtool: config, ${rules.length} rule file(s) and ${tests.length} rule test file(s) pass${result.stdout.includes('SUCCESS') ? '' : ''}`,
  );
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
