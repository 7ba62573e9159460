import type { Request, RequestHandler } from 'express';
import { isRedisUnavailable } from '../../infra/redis-client.ts';

/**
 * Wraps the session middleware so that, while Redis is away, the requests `tolerates`
 * picks (the login page) go on without a session instead of failing with 503: a person with
 * an old cookie still sees the form and a clear message when they submit it.
 */
export function tolerateSessionOutage(
  sessionMiddleware: RequestHandler,
  tolerates: (req: Request) => boolean,
): RequestHandler {
  return (req, res, next) => {
    sessionMiddleware(req, res, (error?: unknown) => {
      if (error && isRedisUnavailable(error) && tolerates(req)) {
        req.log?.warn({ event: 'session.unavailable' }, 'session store unavailable; continuing without a session');
        next();
        return;
      }
      next(error as Error | undefined);
    });
  };
}
