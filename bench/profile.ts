// CPU profile of the built service under a steady signed-in read load (node --cpu-prof), summed
// by where the time goes: make bench-profile. Direct to the service (no nginx), so the profile
// is the service's alone. Prints the top functions by self time and the share per package.
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpClient } from '../testkit/http.ts';
import { startRedisServer } from '../testkit/redis-server.ts';
import { startEdge } from '../testkit/nginx.ts';
import { startNode } from './lib/processes.ts';
import { wrk } from './lib/wrk.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** Bucket a source URL: a package under node_modules, the service's own file, or Node itself. */
function owner(url: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg) return pkg;
  if (url.includes('/dist/')) return `authstack ${url.slice(url.indexOf('/dist/') + 6)}`;
  if (url.startsWith('node:')) return url;
  return url ? url.split('/').slice(-1)[0]! : '(native / GC / idle)';
}

const PASSWORD = 'correct horse battery staple, bench edition';
const seconds = Number(process.env.PROFILE_SECONDS ?? 10);
const dir = mkdtempSync(join(tmpdir(), 'authstack-profile-'));
const redis = await startRedisServer();
const service = await startNode(
  `${process.env.BENCH_SERVICE_DIR ?? '.'}/dist/server.js`,
  {
    REDIS_URL: redis.url,
    SESSION_SECRETS: 'bench-secret-'.padEnd(48, 'x'),
    PUBLIC_ORIGIN: 'https://localhost',
    ADMIN_USERNAME: 'bench-admin',
    ADMIN_PASSWORD: PASSWORD,
    NODE_ENV: 'production',
    NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${dir}`,
  },
  { readyPath: '/healthz', logFile: join(dir, 'service.log') },
);
const edge = await startEdge(service.port);
try {
  const { send } = httpClient({ caFiles: [edge.caFile] });
  const login = await send(`${edge.origin}/api/login`, { json: { username: 'bench-admin', password: PASSWORD } });
  const cookie = login.cookie()!;
  const result = await wrk({ url: `${edge.origin}/api/me`, connections: 16, seconds, headers: { Cookie: cookie } });
  process.stdout.write(
    `GET /api/me through nginx, c16, ${seconds}s: ${Math.round(result.rps)} req/s, p99 ${result.p99Ms} ms\n`,
  );
} finally {
  await edge.stop();
  await service.stop();
  await redis.stop();
}
const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
if (!file) throw new Error(`no .cpuprofile in ${dir}`);
const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nodes: ProfileNode[] };
const total = profile.nodes.reduce((sum, n) => sum + (n.hitCount ?? 0), 0);
const idle = profile.nodes
  .filter((n) => n.callFrame.functionName === '(idle)')
  .reduce((sum, n) => sum + (n.hitCount ?? 0), 0);
const busy = total - idle;
const byOwner = new Map<string, number>();
const byFunction = new Map<string, number>();
for (const node of profile.nodes) {
  const hits = node.hitCount ?? 0;
  if (!hits || node.callFrame.functionName === '(idle)') continue;
  const where = owner(node.callFrame.url);
  byOwner.set(where, (byOwner.get(where) ?? 0) + hits);
  const name = `${node.callFrame.functionName || '(anonymous)'} ${where}:${node.callFrame.lineNumber + 1}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + hits);
}
const pct = (n: number) => `${((100 * n) / busy).toFixed(1).padStart(5)}%`;
const top = (map: Map<string, number>, count: number) =>
  [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, hits]) => `  ${pct(hits)}  ${name}`)
    .join('\n');
// The request log's share: pino-http, and pino under it (a signed-in read logs nothing else).
const requestLog = ['pino-http', 'pino', '@pinojs/redact', 'authstack http/middleware/request-log.js'].reduce(
  (sum, name) => sum + (byOwner.get(name) ?? 0),
  0,
);
process.stdout.write(
  `\nbusy samples: ${busy} of ${total} (profile: ${join(dir, file)})\n\nby package / file (self time):\n${top(byOwner, 25)}\n\ntop functions (self time):\n${top(byFunction, 30)}\n` +
    `\nthe request log (pino-http + pino + request-log.ts): ${pct(requestLog).trim()} of the service's busy CPU\n`,
);
