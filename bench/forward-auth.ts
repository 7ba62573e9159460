// (f) Forward authentication, side by side behind one nginx (issue #20): the same app (bare
// Express "ok") reached through a location with nginx/snippets/protect.conf (auth_request to
// authstack's GET /api/verify first) and through one without; and the verify endpoint against
// GET /api/me, both straight through the edge. The protected and open locations are a bench
// server block beside the project's configuration (the same snippets a user includes).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpClient } from '../testkit/http.ts';
import { startEdge } from '../testkit/nginx.ts';
import { freePorts } from '../testkit/ports.ts';
import { startNode } from './lib/processes.ts';
import { measure, type ThroughputOptions, type ThroughputRow } from './throughput.ts';

export type ForwardAuthApp = 'open app' | 'protected app' | 'authstack /api/me' | 'authstack /api/verify';

const PASSWORD = 'correct horse battery staple, forward-auth bench';

export async function forwardAuth(
  redisUrl: string,
  options: ThroughputOptions,
): Promise<Array<ThroughputRow<ForwardAuthApp>>> {
  const dir = mkdtempSync(join(tmpdir(), 'authstack-bench-fa-'));
  const rulesFile = join(dir, 'rules.json');
  writeFileSync(
    rulesFile,
    JSON.stringify({ rules: [{ name: 'bench', host: 'localhost', path: '/', users: ['bench-fa'] }] }),
  );
  const service = await startNode(
    'dist/server.js',
    {
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: 'benchfa:',
      SESSION_SECRETS: 'bench-secret-'.padEnd(48, 'y'),
      PUBLIC_ORIGIN: 'https://localhost',
      ADMIN_USERNAME: 'bench-fa',
      ADMIN_PASSWORD: PASSWORD,
      ACCESS_RULES_FILE: rulesFile,
      NODE_ENV: 'production',
    },
    { readyPath: '/healthz', logFile: options.serviceLog },
  );
  const app = await startNode('bench/reference/bare-express.ts', { NODE_ENV: 'production' }, { readyPath: '/' });
  const [appsPort] = (await freePorts(1)) as [number];
  const edge = await startEdge(
    service.port,
    {},
    {
      extraConf: ({ cert, key }) => `
server {
    listen 127.0.0.1:${appsPort} ssl http2;
    server_name _;
    ssl_certificate ${cert};
    ssl_certificate_key ${key};
    include snippets/tls.conf;
    include snippets/protect-server.conf;
    location /protected/ {
        include snippets/protect.conf;
        proxy_pass http://127.0.0.1:${app.port}/;
        include snippets/proxy-hop.conf;
    }
    location /open/ {
        proxy_pass http://127.0.0.1:${app.port}/;
        include snippets/proxy-hop.conf;
    }
}
`,
    },
  );
  try {
    const { send } = httpClient({ caFiles: [edge.caFile] });
    const login = await send(`${edge.origin}/api/login`, { json: { username: 'bench-fa', password: PASSWORD } });
    if (login.status !== 200) throw new Error(`forward-auth bench login: ${login.status} ${login.body}`);
    const cookie = { Cookie: login.cookie()! };
    const apps = `https://localhost:${appsPort}`;
    const original = { 'X-Original-URL': `${apps}/protected/`, 'X-Original-Method': 'GET' };
    const targets = [
      { app: 'open app', process: app, url: `${apps}/open/`, headers: cookie },
      { app: 'protected app', process: app, url: `${apps}/protected/`, headers: cookie },
      { app: 'authstack /api/me', process: service, url: `${edge.origin}/api/me`, headers: cookie },
      {
        app: 'authstack /api/verify',
        process: service,
        url: `${edge.origin}/api/verify`,
        headers: { ...cookie, ...original },
      },
    ] satisfies Array<{ app: ForwardAuthApp } & Record<string, unknown>>;
    for (const target of targets) {
      const check = await send(target.url, { headers: target.headers });
      if (check.status >= 300) throw new Error(`${target.app}: ${target.url} answered ${check.status} ${check.body}`);
    }
    const rows: Array<ThroughputRow<ForwardAuthApp>> = [];
    for (const connections of options.connections)
      for (const target of targets) rows.push(await measure<ForwardAuthApp>(target, connections, options));
    return rows;
  } finally {
    await edge.stop();
    await app.stop();
    await service.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
