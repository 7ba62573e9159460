// (b) Hashing under load: a flood of login attempts must not starve signed-in users. The
// hasher runs HASH_CONCURRENCY argon2 jobs at once and queues at most HASH_QUEUE_LIMIT;
// the rest get 503 busy at once, so the event loop stays free for everyone else.
//
// The flood is closed-loop (each answer triggers the next attempt), so with 200 in flight
// /api/me waits behind the event loop's share of 200 concurrent requests whatever they are.
// The baseline flood of malformed logins measures exactly that; the login flood's ratio to
// it is what argon2 adds on top. (The flood client shares this process: on 2 cores, both
// floods also pay for the client's own work.)
import { benchEnv, startService } from './lib/service.ts';
import { clientIp, createClient, median, percentile, sessionCookie } from './lib/http.ts';

const USERNAME = 'bench-user';
const PASSWORD = 'correct horse battery staple, bench edition';

export async function hashUnderLoad(
  redisUrl: string,
  { inFlight = 200, floodMs = 3_000, idleSamples = 200, samplers = 4, concurrency = 2, queueLimit = 8 } = {},
) {
  const service = await startService(
    benchEnv(redisUrl, { HASH_CONCURRENCY: String(concurrency), HASH_QUEUE_LIMIT: String(queueLimit) }),
  );
  const me = createClient(service.port, { maxSockets: samplers });
  const flood = createClient(service.port, { maxSockets: inFlight });
  try {
    await service.createUser(USERNAME, PASSWORD);
    const login = await me.send({
      method: 'POST',
      path: '/api/login',
      body: { username: USERNAME, password: PASSWORD },
    });
    const cookie = sessionCookie(login);
    if (login.status !== 200 || !cookie) throw new Error(`hash under load: login failed (${login.status})`);
    const getMe = async () => {
      const res = await me.send({ path: '/api/me', headers: { Cookie: cookie } });
      if (res.status !== 200) throw new Error(`hash under load: GET /api/me answered ${res.status}`);
      return res.ms;
    };

    for (let i = 0; i < 20; i += 1) await getMe(); // warm-up
    const idle = [];
    for (let i = 0; i < idleSamples; i += 1) idle.push(await getMe());

    // A flood keeps `inFlight` requests outstanding for floodMs while /api/me is sampled.
    // First a baseline flood of malformed logins (400 before any hashing): what 200
    // concurrent requests cost the event loop by themselves. Then the real thing: login
    // attempts that each want an argon2 verify.
    const floodWhileSampling = async (bodyFor: (i: number) => string | object) => {
      const outcome = { byStatus: {} as Record<number, number>, hashedMs: [] as number[], busyMs: [] as number[] };
      let stop = false;
      let ip = 0;
      const worker = async () => {
        while (!stop) {
          ip += 1;
          const res = await flood.send({
            method: 'POST',
            path: '/api/login',
            headers: { 'X-Forwarded-For': clientIp(ip) },
            body: bodyFor(ip),
          });
          outcome.byStatus[res.status] = (outcome.byStatus[res.status] ?? 0) + 1;
          if (res.status === 401) outcome.hashedMs.push(res.ms);
          if (res.busy) outcome.busyMs.push(res.ms);
        }
      };
      const started = Date.now();
      const workers = Array.from({ length: inFlight }, worker);
      await new Promise((resolve) => setTimeout(resolve, 200)); // let the queue fill
      // A few signed-in users at once, so even a slow loop yields a usable number of samples.
      const samples: number[] = [];
      const sampler = async () => {
        while (Date.now() - started < floodMs) samples.push(await getMe());
      };
      await Promise.all(Array.from({ length: samplers }, sampler));
      stop = true;
      await Promise.all(workers);
      return { samples, outcome };
    };
    const cheap = await floodWhileSampling(() => '{"username":');
    const hashing = await floodWhileSampling((i: number) => ({
      username: i % 2 ? `ghost-${i}` : USERNAME,
      password: `flood guess ${i}`,
    }));
    const stats = (samples: number[]) => ({ n: samples.length, median: median(samples), p90: percentile(samples, 90) });
    const byStatus = hashing.outcome.byStatus;

    return {
      inFlight,
      concurrency,
      queueLimit,
      idle: stats(idle),
      cheapFlood: stats(cheap.samples),
      flood: stats(hashing.samples),
      ratio: median(hashing.samples) / median(idle),
      ratioToCheap: median(hashing.samples) / median(cheap.samples),
      logins: {
        total: Object.values(byStatus).reduce((a, b) => a + b, 0),
        byStatus,
        rejected401: byStatus[401] ?? 0,
        busy503: byStatus[503] ?? 0,
        acceptedMedian: median(hashing.outcome.hashedMs),
        acceptedP90: percentile(hashing.outcome.hashedMs, 90),
        busyMedian: median(hashing.outcome.busyMs),
      },
    };
  } finally {
    await me.close();
    await flood.close();
    await service.stop();
  }
}
