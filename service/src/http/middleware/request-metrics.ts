import type { Request, RequestHandler } from 'express';
import type { Metrics } from '../../infra/metrics.ts';

export const UNMATCHED_ROUTE = '<unmatched>';

/**
 * The `route` label is the declared route template (/api/sessions/:id), never anything taken
 * from the request: Express matches paths case-insensitively and with trailing slashes, so
 * /aPi/SeSSions/x would otherwise mint a new series per spelling. The set of labels is bounded
 * by the route table; anything that matched no route shares one label.
 */
export function routeLabel(req: Request): string {
  // req.route can outlive a route that matched the path but not the method (HEAD on a
  // DELETE-only route falls through): what reached the 404 handler matched nothing.
  if (req.res?.locals.unmatched) return UNMATCHED_ROUTE;
  const routePath = (req.route as { path?: unknown } | undefined)?.path;
  const mount = req.res?.locals.mountPath as string | undefined;
  if (typeof routePath !== 'string' || mount === undefined) return UNMATCHED_ROUTE;
  return `${mount}${routePath}`.replace(/(.)\/$/, '$1') || '/';
}

/**
 * Put in front of a mounted router, with the path it is mounted at as written in app.ts (not
 * req.baseUrl, which carries the client's spelling). Express restores req.baseUrl when a
 * router is left, so the mount is remembered on the way in.
 */
export function mountedAt(path: string): RequestHandler {
  return (_req, res, next) => {
    res.locals.mountPath = path;
    next();
  };
}

export function requestMetrics(metrics: Metrics): RequestHandler {
  // One histogram child per (method, route, status): bounded by the route table, and found by
  // one Map lookup instead of prom-client hashing a label object on every request.
  const children = new Map<string, { observe(value: number): void }>();
  return (req, res, next) => {
    // Routes declared on the app itself (ops, the stylesheet) are mounted at the root.
    res.locals.mountPath = '';
    const started = performance.now();
    res.once('finish', () => {
      const method = normalizeMethod(req.method);
      const route = routeLabel(req);
      const status = String(res.statusCode);
      const key = `${method} ${status} ${route}`;
      let child = children.get(key);
      if (!child) {
        child = metrics.httpRequestDuration.labels({ method, route, status_code: status });
        children.set(key, child);
      }
      child.observe((performance.now() - started) / 1000);
    });
    next();
  };
}

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** Arbitrary method tokens are legal HTTP; they must not become new label values. */
function normalizeMethod(method: string): string {
  return KNOWN_METHODS.has(method) ? method : 'OTHER';
}
