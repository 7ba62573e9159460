import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { repoRoot } from './repo.ts';
import { testScratchDir } from './scratch-dir.ts';
import { NGINX_TEMPLATE_VARS, renderNginx, renderTemplate, type NginxTemplateVars } from './nginx.ts';

const vars: NginxTemplateVars = {
  UPSTREAM_ADDR: '127.0.0.1:3000',
  UPSTREAM_MODE: 'static',
  UPSTREAM_RESOLVER: '127.0.0.1',
  NGINX_HTTP_LISTEN: '127.0.0.1:8080',
  NGINX_HTTPS_LISTEN: '127.0.0.1:8443',
  PUBLIC_ORIGIN: 'https://auth.example.test:8443',
  TLS_CERT: '/certs/a.crt',
  TLS_KEY: '/certs/a.key',
  TLS_OCSP: 'off',
  ACME_WEBROOT: '/acme',
  METRICS_AT_EDGE: 'off',
};

describe('renderTemplate', () => {
  it('when a template uses listed variables and nginx variables, then only the listed ones are replaced', () => {
    expect(
      renderTemplate('server ${UPSTREAM_ADDR}; return 301 ${PUBLIC_ORIGIN}$request_uri; set $x $host;', vars),
    ).toBe('server 127.0.0.1:3000; return 301 https://auth.example.test:8443$request_uri; set $x $host;');
  });

  it('when a variable is unset or unknown, then rendering fails naming it', () => {
    expect(() => renderTemplate('x', { ...vars, TLS_KEY: '' })).toThrow('TLS_KEY is not set');
    expect(() => renderTemplate('listen ${NOT_A_VAR};', vars)).toThrow('unsubstituted variable ${NOT_A_VAR}');
  });
});

describe('renderNginx (the real nginx/ directory)', () => {
  it('when rendered, then the :80 redirect targets the public origin, /metrics is closed at the edge and no ${ remains', () => {
    const out = testScratchDir('nginx-render-');

    renderNginx(out, vars);

    const site = readFileSync(join(out, 'conf.d/authstack.conf'), 'utf8');
    expect(site).toContain('return 301 https://auth.example.test:8443$request_uri;');
    expect(site).not.toContain('$host$');
    expect(site).toContain('include snippets/metrics-off.conf;');
    expect(site).toContain('include conf.d/upstream/static.conf;');
    expect(readFileSync(join(out, 'conf.d/upstream/static.conf'), 'utf8')).toContain('server 127.0.0.1:3000;');
    expect(site).not.toMatch(/\$\{/);
    expect(readFileSync(join(out, 'conf.d/00-native-paths.conf'), 'utf8')).toContain(
      `proxy_temp_path ${join(out, 'tmp/proxy')};`,
    );
    // Every variable the template needs is in the list both runtimes substitute.
    const templates = ['authstack.conf.template', 'upstream/static.conf.template', 'upstream/dns.conf.template'].map(
      (f) => readFileSync(join(repoRoot, 'nginx/templates', f), 'utf8'),
    );
    const used = new Set(templates.flatMap((template) => [...template.matchAll(/\$\{([A-Z_]+)\}/g)].map((m) => m[1])));
    expect([...used].sort()).toEqual([...NGINX_TEMPLATE_VARS].sort());
  });
});
