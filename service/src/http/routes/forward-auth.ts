import { Router, type Request } from 'express';
import { AppError, invalidRequest } from '../../errors.ts';
import type { AccessPolicy } from '../../forward-auth/access-policy.ts';
import { NO_RULE, type AccessRequest } from '../../forward-auth/access-rules.ts';
import { safeReturnUrl } from '../../forward-auth/return-url.ts';
import type { Metrics } from '../../infra/metrics.ts';

export interface ForwardAuthDeps {
  access: AccessPolicy;
  publicOrigin: string;
  metrics: Metrics;
}

/**
 * The original request nginx asks about: X-Original-URL and X-Original-Method, which the edge sets
 * (nginx/snippets/protect.conf, ingress-nginx's auth-url) over anything the client sent. The path
 * is compared percent-decoded and with dot segments resolved, as the app behind will read it.
 */
function originalRequest(req: Request): AccessRequest & { url: URL } {
  const raw = req.get('x-original-url');
  const method = req.get('x-original-method')?.toUpperCase();
  if (!raw || !method) throw invalidRequest('X-Original-URL and X-Original-Method are required (set by the edge).');
  let url: URL;
  let path: string;
  try {
    url = new URL(raw);
    path = new URL(decodeURIComponent(url.pathname), 'https://x').pathname;
  } catch {
    throw invalidRequest('X-Original-URL is not a URL.');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalidRequest('X-Original-URL is not http(s).');
  return { url, host: url.hostname, path, method };
}

/** Header values are ASCII: a username or group outside it arrives percent-encoded (UTF-8). */
const headerValue = (value: string) => encodeURIComponent(value);

/**
 * GET /api/verify: nginx's auth_request asks whether the original request may pass.
 *   204 + Remote-User, Remote-Groups, Remote-Name   signed in, and a rule admits the user
 *   401 + Location (the login page, returning here)   no valid session
 *   403                                               signed in, no rule admits the user
 * The answer comes from the session the cookie names (one GET, loaded before this route) and
 * the rules in memory; it never creates a session and writes only the idle clock's periodic touch.
 */
export function forwardAuthRouter({ access, publicOrigin, metrics }: ForwardAuthDeps): Router {
  const router = Router();
  router.get('/verify', (req, res) => {
    const original = originalRequest(req);
    const user = req.user;
    if (!user) {
      metrics.forwardAuthDecisions.inc({ decision: 'unauthenticated', rule: NO_RULE });
      const back = safeReturnUrl(original.url.href, access.returnOrigins, '');
      const login = `${publicOrigin}/login${back ? `?rd=${encodeURIComponent(back)}` : ''}`;
      throw new AppError(401, 'unauthenticated', 'Sign in to continue.', { Location: login });
    }
    const { decision, rule } = access.rules.decide(user, original);
    metrics.forwardAuthDecisions.inc({ decision, rule });
    // The audit event rides on the request's own log line (http/middleware/request-log.ts): one
    // line per check, not two, on the hottest path of a protected app.
    const { host, path, method } = original;
    res.locals.audit = { event: 'forward_auth.decision', decision, rule, userId: user.id, host, path, method };
    if (decision === 'denied') throw new AppError(403, 'forbidden', 'You may not access this.');
    res.set({
      'Remote-User': headerValue(user.username),
      'Remote-Groups': user.groups.map(headerValue).join(','),
      'Remote-Name': headerValue(user.username),
    });
    res.status(204).end();
  });
  return router;
}
