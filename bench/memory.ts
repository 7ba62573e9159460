// (c) Memory: the service's RSS and heap (after a forced GC) before and after thousands of
// ordinary requests. A per-request leak shows up as a heap that does not settle back.
import { benchEnv, startService } from './lib/service.ts';
import { createClient, sessionCookie, type BenchRequest } from './lib/http.ts';

const USERNAME = 'bench-memory';
const PASSWORD = 'correct horse battery staple, bench edition';

export async function memory(redisUrl: string, { requests = 5_000, concurrency = 16, warmup = 500 } = {}) {
  const service = await startService(benchEnv(redisUrl));
  const client = createClient(service.port, { maxSockets: concurrency });
  try {
    await service.createUser(USERNAME, PASSWORD);
    const login = await client.send({
      method: 'POST',
      path: '/api/login',
      body: { username: USERNAME, password: PASSWORD },
    });
    const cookie = sessionCookie(login);
    if (login.status !== 200 || !cookie) throw new Error(`memory: login failed (${login.status})`);

    // No argon2 in the mix (that is bench b): sessions, pages, errors, probes.
    const mix: BenchRequest[] = [
      { path: '/api/me', headers: { Cookie: cookie } },
      { path: '/api/sessions', headers: { Cookie: cookie } },
      { path: '/', headers: { Cookie: cookie } },
      { path: '/api/me' },
      { path: '/login' },
      { path: '/healthz' },
      { path: '/no/such/route' },
      { method: 'POST', path: '/api/login', body: '{"username":', headers: { 'Content-Type': 'application/json' } },
      { method: 'POST', path: '/api/login', body: { username: 42 } },
    ];
    const run = async (count: number) => {
      let next = 0;
      const statuses: Record<number, number> = {};
      const worker = async () => {
        while (next < count) {
          const res = await client.send(mix[next++ % mix.length]!);
          statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
      return statuses;
    };

    await run(warmup);
    const before = await service.memory();
    const started = Date.now();
    const statuses = await run(requests);
    const seconds = (Date.now() - started) / 1000;
    const after = await service.memory();
    return {
      requests,
      seconds,
      statuses,
      before,
      after,
      heapRatio: after.heapUsed / before.heapUsed,
      rssRatio: after.rss / before.rss,
    };
  } finally {
    await client.close();
    await service.stop();
  }
}
