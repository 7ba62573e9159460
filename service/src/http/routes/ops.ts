import { createHash, timingSafeEqual } from 'node:crypto';
import { Router } from 'express';
import type { Registry } from 'prom-client';
import type { RedisClient } from '../../infra/redis-client.ts';
import type { Lifecycle } from '../../lifecycle.ts';

export interface OpsDeps {
  redis: RedisClient;
  registry: Registry;
  metricsToken?: string;
  lifecycle: Lifecycle;
  readinessTimeoutMs: number;
}

/** Compares via SHA-256 digests so neither content nor length leaks through timing. */
function tokenMatches(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** Health, readiness and metrics: no session, no body parsing, cheap. */
export function opsRouter({ redis, registry, metricsToken, lifecycle, readinessTimeoutMs }: OpsDeps): Router {
  const router = Router();

  // Liveness: the process is up and its event loop answers. Never depends on Redis, so a
  // Redis outage does not get every replica restarted.
  router.get('/healthz', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ status: 'ok' });
  });

  // Readiness: safe to route traffic here (Redis answers, not shutting down).
  router.get('/readyz', async (_req, res) => {
    res.set('Cache-Control', 'no-store');
    if (lifecycle.shuttingDown) {
      res.status(503).json({ status: 'shutting_down' });
      return;
    }
    try {
      await withTimeout(redis.ping(), readinessTimeoutMs);
      res.json({ status: 'ready' });
    } catch {
      res.status(503).json({ status: 'unavailable', redis: 'down' });
    }
  });

  router.get('/metrics', async (req, res) => {
    res.set('Cache-Control', 'no-store');
    if (metricsToken) {
      const header = req.get('authorization') ?? '';
      const match = /^Bearer\s+(.+)$/i.exec(header);
      if (!match || !tokenMatches(match[1]!.trim(), metricsToken)) {
        res
          .set('WWW-Authenticate', 'Bearer realm="metrics"')
          .status(401)
          .json({ error: 'unauthenticated', message: 'A valid bearer token is required.' });
        return;
      }
    }
    res.type(registry.contentType).send(await registry.metrics());
  });

  return router;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
