import { spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ensureLocalCertificates } from './certs.ts';
import { probe } from './http.ts';
import { freePorts } from './ports.ts';
import { repoRoot } from './repo.ts';

/**
 * The variables the site template may use (nginx/templates/*.conf.template, docs/edge.md).
 * Both runtimes substitute exactly these: the nginx image's entrypoint through envsubst (compose
 * passes them as environment), the native stack through renderTemplate below.
 */
export const NGINX_TEMPLATE_VARS = [
  'UPSTREAM_ADDR',
  'UPSTREAM_MODE',
  'UPSTREAM_RESOLVER',
  'NGINX_HTTP_LISTEN',
  'NGINX_HTTPS_LISTEN',
  'PUBLIC_ORIGIN',
  'TLS_CERT',
  'TLS_KEY',
  'TLS_OCSP',
  'ACME_WEBROOT',
  'METRICS_AT_EDGE',
] as const;

export type NginxTemplateVars = Record<(typeof NGINX_TEMPLATE_VARS)[number], string>;

/**
 * What envsubst with an explicit variable list does: `${NAME}` for the listed names is replaced,
 * nginx's own `$name` variables are left alone. A `${` left behind is a template bug and fails
 * here, before nginx would fail less clearly.
 */
export function renderTemplate(template: string, vars: NginxTemplateVars, name = 'template'): string {
  let out = template;
  for (const key of NGINX_TEMPLATE_VARS) {
    const value = vars[key];
    if (value === undefined || value === '') throw new Error(`nginx ${name}: ${key} is not set`);
    out = out.replaceAll(`\${${key}}`, value);
  }
  const leftover = /\$\{[^}]*\}/.exec(out);
  if (leftover) throw new Error(`nginx ${name}: unsubstituted variable ${leftover[0]}`);
  return out;
}

/**
 * nginx's own files, relative to nginx/ (nginx.conf, snippets/*, templates/**): what every
 * runtime ships, read from the directory, so a new snippet needs no list anywhere else (the
 * native stack renders them, compose mounts the directories, swarm makes a config of each).
 */
export function nginxFiles(): string[] {
  const dir = join(repoRoot, 'nginx');
  const under = (sub: string) => readdirSync(join(dir, sub), { recursive: true }).map((f) => join(sub, String(f)));
  return ['nginx.conf', ...under('snippets'), ...under('templates').filter((f) => f.endsWith('.template'))]
    .filter((f) => statSync(join(dir, f)).isFile())
    .sort();
}

/**
 * Renders nginx/ for the native runtime into `out`: nginx.conf and the snippets as they are,
 * the site template rendered into conf.d/, and temp paths inside `out` (the container keeps its
 * compiled-in paths). The same files the compose stack mounts, so both run one configuration.
 */
export function renderNginx(out: string, vars: NginxTemplateVars): void {
  const source = join(repoRoot, 'nginx');
  mkdirSync(join(out, 'snippets'), { recursive: true });
  rmSync(join(out, 'conf.d'), { recursive: true, force: true });
  mkdirSync(join(out, 'conf.d'), { recursive: true });
  mkdirSync(join(out, 'tmp'), { recursive: true });
  // nginx.conf and snippets/ as they are; templates/**.conf.template rendered into conf.d/**.conf,
  // subdirectories kept (as the image's entrypoint does).
  for (const file of nginxFiles()) {
    const template = file.startsWith('templates/');
    const target = template
      ? join(out, 'conf.d', file.slice('templates/'.length).replace(/\.template$/, ''))
      : join(out, file);
    mkdirSync(dirname(target), { recursive: true });
    if (template) writeFileSync(target, renderTemplate(readFileSync(join(source, file), 'utf8'), vars, file));
    else copyFileSync(join(source, file), target);
  }
  writeFileSync(
    join(out, 'conf.d', '00-native-paths.conf'),
    [
      '# Rendered by the native stack: temp paths inside the run directory, not /var.',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${t}_temp_path ${join(out, 'tmp', t)};`),
      '',
    ].join('\n'),
  );
}

/**
 * The global directives nginx.conf leaves to the runtime (see its header), for `-g`: no daemon,
 * the pid file in `out`, and as root, workers that do not run as root (www-data on Debian, else
 * nobody).
 */
export function nginxGlobals(out: string): string {
  const isRoot = process.getuid?.() === 0;
  const succeeds = (command: string, args: string[]) => spawnSync(command, args, { stdio: 'ignore' }).status === 0;
  const workerUser = succeeds('id', ['www-data'])
    ? 'www-data'
    : `nobody ${spawnSync('id', ['-gn', 'nobody'], { encoding: 'utf8' }).stdout.trim()}`;
  return `daemon off; pid ${join(out, 'nginx.pid')};${isRoot ? ` user ${workerUser};` : ''}`;
}

/**
 * The project's own nginx configuration, rendered as the native stack renders it, in front of
 * `upstreamPort` on free loopback ports, with a fresh local CA (tests, the bench): the edge's
 * own cost and rules are part of what they measure.
 */
export async function startEdge(
  upstreamPort: number,
  vars: Partial<NginxTemplateVars> = {},
  options: {
    ports?: { https: number; http: number };
    /** More configuration beside the project's (conf.d/zz-extra.conf), given the local certificate's files. */
    extraConf?: (tls: { cert: string; key: string }) => string;
  } = {},
): Promise<{ origin: string; caFile: string; port: number; httpPort: number; pidFile: string; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'authstack-edge-'));
  const certs = ensureLocalCertificates(join(dir, 'certs'), { quiet: true });
  const [https, http] = options.ports
    ? [options.ports.https, options.ports.http]
    : ((await freePorts(2)) as [number, number]);
  const out = join(dir, 'nginx');
  mkdirSync(join(dir, 'acme'));
  renderNginx(out, {
    UPSTREAM_ADDR: `127.0.0.1:${upstreamPort}`,
    UPSTREAM_MODE: 'static',
    UPSTREAM_RESOLVER: '127.0.0.1',
    NGINX_HTTP_LISTEN: `127.0.0.1:${http}`,
    NGINX_HTTPS_LISTEN: `127.0.0.1:${https}`,
    PUBLIC_ORIGIN: `https://localhost:${https}`,
    TLS_CERT: certs.leafCrt,
    TLS_KEY: certs.leafKey,
    TLS_OCSP: 'off',
    ACME_WEBROOT: join(dir, 'acme'),
    METRICS_AT_EDGE: 'off',
    ...vars,
  });
  if (options.extraConf)
    writeFileSync(join(out, 'conf.d', 'zz-extra.conf'), options.extraConf({ cert: certs.leafCrt, key: certs.leafKey }));
  const log = openSync(join(dir, 'nginx.log'), 'a');
  const child = spawn('nginx', ['-p', `${out}/`, '-c', join(out, 'nginx.conf'), '-g', nginxGlobals(out)], {
    stdio: ['ignore', log, log],
  });
  const origin = `https://localhost:${https}`;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  for (
    let tries = 0;
    // Plain HTTP answers (301) whatever certificate the TLS server was given.
    (await probe(`http://127.0.0.1:${http}/`, { timeoutMs: 1000 })).status === 0;
    tries += 1
  ) {
    if (tries > 150 || child.exitCode !== null)
      throw new Error(`nginx did not come up:\n${readFileSync(join(dir, 'nginx.log'), 'utf8')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    origin,
    caFile: certs.caCrt,
    port: https,
    httpPort: http,
    pidFile: join(out, 'nginx.pid'),
    async stop() {
      child.kill('SIGQUIT');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
