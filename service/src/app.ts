import express, { type Express, type Response } from 'express';
import helmet from 'helmet';
import type { Runtime } from './bootstrap.ts';
import { Lifecycle, closeConnectionsWhileDraining } from './lifecycle.ts';
import { crossOriginGuard } from './http/middleware/cross-origin-guard.ts';
import { requestLog } from './http/middleware/request-log.ts';
import { errorHandler, notFoundHandler } from './http/middleware/error-handler.ts';
import { noStore } from './http/middleware/no-store.ts';
import { mountedAt, requestMetrics } from './http/middleware/request-metrics.ts';
import { loadSessionUser } from './http/middleware/signed-in-user.ts';
import { tolerateSessionOutage } from './http/middleware/session-outage.ts';
import { authApiRouter } from './http/routes/auth-api.ts';
import { forwardAuthRouter } from './http/routes/forward-auth.ts';
import { demoAppRouter } from './http/routes/demo-app.ts';
import { opsRouter } from './http/routes/ops.ts';
import { pagesRouter, stylesheetHandler } from './http/routes/pages.ts';
import { sessionsApiRouter } from './http/routes/sessions-api.ts';
import { createAccountFlow } from './http/flows/registration-and-password.ts';
import { createRevocationFlow } from './http/flows/revocation.ts';
import { createSignInFlow } from './http/flows/sign-in.ts';
import { deviceCookie } from './http/flows/device-cookie.ts';
import { deviceCookieOptions, sessionCookieOptions } from './sessions/session-cookie.ts';
import { createSessionMiddleware } from './sessions/session-middleware.ts';

/** What the app is fed: the opened dependencies (bootstrap.ts) and, optionally, a lifecycle. */
export type AppDeps = Omit<Runtime, 'close'> & { lifecycle?: Lifecycle };

/**
 * Builds the Express app. Never listens: server.ts owns the process, tests drive the app
 * in-process. The middleware order below is the security story, top to bottom.
 */
/** Pages that still render (their form, or a clear error) while Redis is away. */
const FORM_PAGES = new Set(['/login', '/register', '/password']);

export function createApp(deps: AppDeps): { app: Express; lifecycle: Lifecycle } {
  const { config, redis, logger, metrics, domain } = deps;
  const lifecycle = deps.lifecycle ?? new Lifecycle();
  const app = express();

  // Exactly the nginx hop(s): req.ip is then the client nginx saw, and X-Forwarded-For
  // entries a client adds itself are ignored. Never `true`.
  app.set('trust proxy', config.trustProxy);
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  // 0. During a graceful shutdown's drain, connections end after each answer.
  app.use(closeConnectionsWhileDraining(lifecycle));

  // 1. Request id + one structured log line per request (req.log for audit events).
  app.use(requestLog(app, logger));

  // 2. Metrics for everything, including rejected requests.
  app.use(requestMetrics(metrics));

  // 3. Security headers. HSTS is left to nginx (the TLS edge) so exactly one reaches the client.
  app.use(
    helmet({
      strictTransportSecurity: false,
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'none'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
          baseUri: ["'none'"],
        },
      },
      crossOriginResourcePolicy: { policy: 'same-origin' },
      // same-origin, not no-referrer: with no-referrer, browsers send `Origin: null` on our own
      // form posts, which the cross-origin guard (rightly) refuses. Other sites still get nothing.
      referrerPolicy: { policy: 'same-origin' },
      xFrameOptions: { action: 'deny' },
    }),
  );

  // 4. Operational endpoints: before sessions and body parsing (cheap, no Redis session I/O).
  app.use(
    opsRouter({
      redis,
      registry: metrics.registry,
      metricsToken: config.metricsToken,
      lifecycle,
      readinessTimeoutMs: config.redis.commandTimeoutMs,
    }),
  );

  app.get('/static/app.css', stylesheetHandler);

  // 5. CSRF: unsafe methods from another origin are refused before anything else runs.
  app.use(crossOriginGuard(config.publicOrigin));

  // 6. Everything below may touch a session: never cacheable.
  app.use(noStore());
  app.use(express.json({ limit: '16kb', strict: true, type: 'application/json' }));
  const sessionMiddleware = createSessionMiddleware({
    store: domain.sessionStore,
    sessions: domain.sessions,
    config,
    metrics,
  });
  app.use(tolerateSessionOutage(sessionMiddleware, (req) => req.method === 'GET' && FORM_PAGES.has(req.path)));
  app.use(loadSessionUser(domain.sessions));

  const cookieOptions = sessionCookieOptions(config.session);
  const clearSessionCookie = (res: Response) => res.clearCookie(config.session.cookieName, cookieOptions);
  const devices = deviceCookie(config.device.cookieName, deviceCookieOptions(config));
  const signInFlow = createSignInFlow({
    authenticator: domain.authenticator,
    sessions: domain.sessions,
    metrics,
    clearSessionCookie,
    deviceCookie: devices,
  });
  const revocation = createRevocationFlow({
    sessions: domain.sessions,
    accounts: domain.accounts,
    devices: domain.devices,
    deviceCookie: devices,
    clearSessionCookie,
  });
  const accountFlow = createAccountFlow({
    authenticator: domain.authenticator,
    accounts: domain.accounts,
    sessions: domain.sessions,
    devices: domain.devices,
    deviceCookie: devices,
    signup: { enabled: config.signupEnabled, limit: domain.signupLimit },
  });

  app.use(
    '/api',
    mountedAt('/api'),
    forwardAuthRouter({ access: domain.access, publicOrigin: config.publicOrigin, metrics }),
  );
  app.use('/api', mountedAt('/api'), authApiRouter({ sessions: domain.sessions, signInFlow, accountFlow }));
  app.use('/api/sessions', mountedAt('/api/sessions'), sessionsApiRouter(domain.sessions, revocation));
  const pages = { sessions: domain.sessions, signInFlow, revocation, accountFlow, access: domain.access };
  app.use(mountedAt(''), pagesRouter(pages));
  app.use(mountedAt(''), demoAppRouter());

  app.use(notFoundHandler());
  app.use(errorHandler(logger));
  return { app, lifecycle };
}
