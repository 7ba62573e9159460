import type { Request, RequestHandler } from 'express';
import type { Metrics } from '../../infra/metrics.ts';

export const UNMATCHED_ROUTE = '<unmatched>';

/**
 * The `route` label is the matched route template (/api/sessions/:id), never the raw path,
 * so label cardinality is bounded by the routes we define. Anything that matched no route
 * (scanners, typos) shares one label.
 */
export function routeLabel(req: Request): string {
  const routePath = (req.route as { path?: unknown } | undefined)?.path;
  // Express restores req.baseUrl when a router is left (e.g. an error travels to the error
  // handler), so the mount path is remembered on the way in by rememberMountPath().
  const mount = (req.res?.locals.mountPath as string | undefined) ?? req.baseUrl;
  if (typeof routePath === 'string') return `${mount}${routePath}`.replace(/(.)\/$/, '$1') || '/';
  // Mounted middleware that answered without a route (express.static under /static).
  if (req.baseUrl && (req.res?.statusCode ?? 404) < 400) return req.baseUrl;
  return UNMATCHED_ROUTE;
}

/** Put in front of a mounted router: records its mount path for routeLabel(). */
export function rememberMountPath(): RequestHandler {
  return (req, res, next) => {
    res.locals.mountPath = req.baseUrl;
    next();
  };
}

export function requestMetrics(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const end = metrics.httpRequestDuration.startTimer();
    res.on('finish', () => {
      end({ method: normalizeMethod(req.method), route: routeLabel(req), status_code: String(res.statusCode) });
    });
    next();
  };
}

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** Arbitrary method tokens are legal HTTP; they must not become new label values. */
function normalizeMethod(method: string): string {
  return KNOWN_METHODS.has(method) ? method : 'OTHER';
}
