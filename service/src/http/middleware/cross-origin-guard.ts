import type { RequestHandler } from 'express';
import { crossOrigin } from '../../errors.ts';

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * CSRF defence for cookie-authenticated requests, using what browsers send on their own:
 * Sec-Fetch-Site (Fetch Metadata) and Origin. A browser request from another site carries
 * one of them and is refused; requests with neither (curl, scripts, server-to-server) cannot
 * ride a victim's cookies and pass. SameSite=Lax on the cookie is the second layer.
 */
export function crossOriginGuard(publicOrigin: string): RequestHandler {
  return (req, _res, next) => {
    if (!UNSAFE_METHODS.has(req.method)) return next();
    const fetchSite = req.get('sec-fetch-site');
    const origin = req.get('origin');
    const badFetchSite = fetchSite !== undefined && fetchSite !== 'same-origin' && fetchSite !== 'none';
    const badOrigin = origin !== undefined && origin !== publicOrigin;
    if (badFetchSite || badOrigin) {
      next(crossOrigin());
      return;
    }
    next();
  };
}
