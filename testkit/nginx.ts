import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { repoRoot } from '../lib/repo.ts';

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
  copyFileSync(join(source, 'nginx.conf'), join(out, 'nginx.conf'));
  for (const file of readdirSync(join(source, 'snippets'))) copyFileSync(join(source, 'snippets', file), join(out, 'snippets', file));
  // templates/**.conf.template -> conf.d/**.conf, subdirectories kept (as the image's entrypoint does).
  for (const file of readdirSync(join(source, 'templates'), { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.conf.template'))) {
    const name = file.replace(/\.template$/, '');
    mkdirSync(dirname(join(out, 'conf.d', name)), { recursive: true });
    writeFileSync(join(out, 'conf.d', name), renderTemplate(readFileSync(join(source, 'templates', file), 'utf8'), vars, name));
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

/** The global directives nginx.conf leaves to the runtime (see its header), for `-g`. */
export function nginxGlobals(out: string, options: { isRoot: boolean; workerUser: string }): string {
  // As root, workers must not run as root: www-data on Debian, else nobody.
  return `daemon off; pid ${join(out, 'nginx.pid')};${options.isRoot ? ` user ${options.workerUser};` : ''}`;
}
