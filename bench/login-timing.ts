// (a) Account enumeration by timing: a login for an unknown user must cost what a wrong
// password for an existing user costs (the authenticator runs a decoy argon2 verify).
import { benchEnv, startService } from './lib/service.ts';
import { clientIp, createClient, median, percentile } from './lib/http.ts';

const USERNAME = 'bench-existing';
const PASSWORD = 'correct horse battery staple, bench edition';

export async function loginTiming(redisUrl: string, { attempts = 100, warmup = 10 } = {}) {
  const service = await startService(benchEnv(redisUrl));
  // One connection, one attempt at a time: nothing but the login itself in each timing.
  const client = createClient(service.port, { maxSockets: 1 });
  try {
    await service.createUser(USERNAME, PASSWORD);
    let ip = 0;
    const attempt = async (kind: 'unknown' | 'wrong'): Promise<number> => {
      ip += 1;
      const body = { username: kind === 'unknown' ? `ghost-${ip}` : USERNAME, password: `wrong guess ${ip}` };
      const res = await client.send({
        method: 'POST',
        path: '/api/login',
        headers: { 'X-Forwarded-For': clientIp(ip) },
        body,
      });
      if (res.status !== 401)
        throw new Error(`login timing: expected 401 for the ${kind} case, got ${res.status} ${res.body.slice(0, 120)}`);
      return res.ms;
    };

    // Warm-up: JIT and the keep-alive connection (the decoy hash is made at start-up).
    const firstUnknownMs = await attempt('unknown');
    for (let i = 0; i < warmup; i += 1) {
      await attempt('unknown');
      await attempt('wrong');
    }

    const unknown: number[] = [];
    const wrong: number[] = [];
    for (let i = 0; i < attempts; i += 1) {
      // Alternate which case goes first, so drift (thermal, GC) hits both alike.
      const order = i % 2 === 0 ? (['unknown', 'wrong'] as const) : (['wrong', 'unknown'] as const);
      for (const kind of order) (kind === 'unknown' ? unknown : wrong).push(await attempt(kind));
    }
    return {
      firstUnknownMs,
      unknown: { n: unknown.length, median: median(unknown), p90: percentile(unknown, 90) },
      wrong: { n: wrong.length, median: median(wrong), p90: percentile(wrong, 90) },
      ratio: median(unknown) / median(wrong),
    };
  } finally {
    await client.close();
    await service.stop();
  }
}
