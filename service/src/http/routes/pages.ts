import { createHash } from 'node:crypto';
import { Router, urlencoded, type Request, type RequestHandler, type Response } from 'express';
import type { AppError } from '../../errors.ts';
import type { SessionManager } from '../../sessions/session-manager.ts';
import type { RevocationFlow } from '../flows/revocation.ts';
import type { SignInFlow } from '../flows/sign-in.ts';
import { toAppError } from '../middleware/error-handler.ts';
import { dashboardPage, loginPage, messagePage } from '../views/pages.ts';
import { STYLESHEET } from '../views/stylesheet.ts';

export interface PagesDeps {
  sessions: SessionManager;
  signInFlow: SignInFlow;
  revocation: RevocationFlow;
}

const STYLESHEET_ETAG = `"${createHash('sha256').update(STYLESHEET).digest('base64url').slice(0, 16)}"`;

/** GET /static/app.css: cacheable, no session needed (mounted before the session middleware). */
export const stylesheetHandler: RequestHandler = (req, res) => {
  res.set({ 'Content-Type': 'text/css; charset=utf-8', 'Cache-Control': 'public, max-age=3600', ETag: STYLESHEET_ETAG });
  if (req.get('if-none-match') === STYLESHEET_ETAG) {
    res.status(304).end();
    return;
  }
  res.send(STYLESHEET);
};

/**
 * Server-rendered pages for people: the login form, the dashboard and their form posts.
 * Form posts answer 303 (POST-redirect-GET) so a reload never re-submits a password.
 */
export function pagesRouter({ sessions, signInFlow, revocation }: PagesDeps): Router {
  const router = Router();
  const form = urlencoded({ extended: false, limit: '8kb', parameterLimit: 10 });

  router.get('/', async (req, res) => {
    if (!req.user) return res.redirect(303, '/login');
    const sessionList = await sessions.list(req.user.id, req.sessionID);
    res.type('html').send(dashboardPage({ username: req.user.username, times: sessions.times(req), sessions: sessionList }));
  });

  router.get('/login', (req, res) => {
    if (req.user) return res.redirect(303, '/');
    res.type('html').send(loginPage());
  });

  router.post('/login', form, async (req, res) => {
    const body = req.body as { username?: unknown } | undefined;
    const typed = typeof body?.username === 'string' ? body.username.slice(0, 64) : '';
    try {
      await signInFlow.signIn(req, res);
      res.redirect(303, '/');
    } catch (error) {
      // People get a page, not JSON, also when Redis is away or the hashing queue is full.
      // A real fault (500) still goes to the error handler, which logs it with its stack.
      const answer = toAppError(error);
      if (answer.status === 500) throw error;
      renderLoginError(res, answer, typed);
    }
  });

  router.post('/logout', async (req, res) => {
    await signInFlow.signOut(req, res);
    res.redirect(303, '/login');
  });

  router.post('/sessions/revoke-others', async (req, res) => {
    if (!req.user) return res.redirect(303, '/login');
    await revocation.revokeOthers(req, req.user);
    res.redirect(303, '/');
  });

  router.post('/sessions/:id/revoke', async (req: Request<{ id: string }>, res) => {
    if (!req.user) return res.redirect(303, '/login');
    const outcome = await revocation.revokeByHandle(req, res, req.user, req.params.id);
    res.redirect(303, outcome === 'current' ? '/login' : '/');
  });

  return router;
}

function renderLoginError(res: Response, error: AppError, username: string) {
  res.set(error.headers);
  if (error.status === 401 || error.status === 400) {
    res
      .status(error.status)
      .type('html')
      .send(loginPage({ error: 'Wrong username or password.', username }));
  } else if (error.status === 429) {
    res
      .status(429)
      .type('html')
      .send(loginPage({ error: 'Too many attempts. Try again later.', username }));
  } else {
    res.status(error.status).type('html').send(messagePage('Cannot sign in', error.message));
  }
}
