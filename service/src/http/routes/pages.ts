import { createHash } from 'node:crypto';
import { Router, urlencoded, type Request, type RequestHandler, type Response } from 'express';
import type { AppError } from '../../errors.ts';
import type { AccessPolicy } from '../../forward-auth/access-policy.ts';
import { safeReturnUrl } from '../../forward-auth/return-url.ts';
import type { SessionManager } from '../../sessions/session-manager.ts';
import { USERNAME_MAX_LENGTH } from '../../users/username.ts';
import { FieldError, type AccountField, type AccountFlow } from '../flows/registration-and-password.ts';
import type { RevocationFlow } from '../flows/revocation.ts';
import type { SignInFlow } from '../flows/sign-in.ts';
import { toAppError } from '../middleware/error-handler.ts';
import {
  dashboardPage,
  loginPage,
  NOTICES,
  passwordPage,
  registerPage,
  type FormErrors,
  type Notice,
} from '../views/pages.ts';
import { STYLESHEET } from '../views/stylesheet.ts';

export interface PagesDeps {
  sessions: SessionManager;
  signInFlow: SignInFlow;
  revocation: RevocationFlow;
  accountFlow: AccountFlow;
  /** Where a sign-in may return to (`rd`, from forward auth's 401). */
  access: AccessPolicy;
}

const STYLESHEET_ETAG = `"${createHash('sha256').update(STYLESHEET).digest('base64url').slice(0, 16)}"`;

/** GET /static/app.css: cacheable, no session needed (mounted before the session middleware). */
export const stylesheetHandler: RequestHandler = (req, res) => {
  res.set({
    'Content-Type': 'text/css; charset=utf-8',
    'Cache-Control': 'public, max-age=3600',
    ETag: STYLESHEET_ETAG,
  });
  if (req.get('if-none-match') === STYLESHEET_ETAG) {
    res.status(304).end();
    return;
  }
  res.send(STYLESHEET);
};

/**
 * Server-rendered pages for people: sign-in, sign-up, the dashboard, password change and their
 * form posts. The forms go through the same flows as the JSON API (same policy, throttles and
 * audit events). A form post that worked answers 303 (POST-redirect-GET) so a reload never
 * re-submits a password; a refused one re-renders its form with the status the API would give.
 */
export function pagesRouter({ sessions, signInFlow, revocation, accountFlow, access }: PagesDeps): Router {
  const router = Router();
  /** `rd`: where a protected app sent the browser from; followed only to allowed origins, else '' (the dashboard). */
  const returnTo = (raw: unknown) => safeReturnUrl(raw, access.returnOrigins, '');
  const form = urlencoded({ extended: false, limit: '8kb', parameterLimit: 10 });

  router.get('/', async (req, res) => {
    if (!req.user) return res.redirect(303, '/login');
    const sessionList = await sessions.list(req, req.user.id);
    res.type('html').send(
      dashboardPage({
        username: req.user.username,
        groups: req.user.groups,
        times: sessions.times(req),
        sessions: sessionList,
        notice: noticeOf(req),
      }),
    );
  });

  router.get('/login', (req, res) => {
    const rd = returnTo(req.query.rd);
    if (req.user) return res.redirect(303, rd || '/');
    res.type('html').send(loginPage({ signupEnabled: accountFlow.signupEnabled, returnTo: rd }));
  });

  router.post('/login', form, async (req, res) => {
    try {
      await signInFlow.signIn(req, res);
      res.redirect(303, returnTo((req.body as { rd?: unknown } | undefined)?.rd) || '/');
    } catch (error) {
      const answer = refusal(error);
      // One message whichever of the two was wrong (or malformed): the form must not tell.
      const wrong = answer.status === 401 || answer.status === 400;
      const errors = wrong ? { fields: { password: 'Wrong username or password.' } } : { form: answer.message };
      sendForm(
        res,
        answer,
        loginPage({
          username: typedUsername(req),
          errors,
          signupEnabled: accountFlow.signupEnabled,
          returnTo: returnTo((req.body as { rd?: unknown } | undefined)?.rd),
        }),
      );
    }
  });

  router.post('/logout', async (req, res) => {
    await signInFlow.signOut(req, res);
    res.redirect(303, '/login');
  });

  router.get('/password', (req, res) => {
    if (!req.user) return res.redirect(303, '/login');
    res.type('html').send(passwordPage({ username: req.user.username }));
  });

  router.post('/password', form, async (req, res) => {
    if (!req.user) return res.redirect(303, '/login');
    try {
      await accountFlow.changePassword(req, res, req.user);
      res.redirect(303, noticeUrl('password-changed'));
    } catch (error) {
      const answer = refusal(error);
      sendForm(res, answer, passwordPage({ username: req.user.username, errors: formErrors(answer) }));
    }
  });

  // Without sign-up the pages do not exist: the app's ordinary 404 answers, as for any unknown path.
  if (accountFlow.signupEnabled) {
    router.get('/register', (req, res) => {
      if (req.user) return res.redirect(303, '/');
      res.type('html').send(registerPage());
    });

    router.post('/register', form, async (req, res) => {
      try {
        await accountFlow.register(req);
        res.redirect(303, noticeUrl('registered'));
      } catch (error) {
        const answer = refusal(error);
        sendForm(res, answer, registerPage({ username: typedUsername(req), errors: formErrors(answer) }));
      }
    });
  }

  router.post('/sessions/revoke-others', async (req, res) => {
    if (!req.user) return res.redirect(303, '/login');
    await revocation.revokeOthers(req, res, req.user);
    res.redirect(303, '/');
  });

  router.post('/sessions/:id/revoke', async (req: Request<{ id: string }>, res) => {
    if (!req.user) return res.redirect(303, '/login');
    const outcome = await revocation.revokeByHandle(req, res, req.user, req.params.id);
    res.redirect(303, outcome === 'current' ? '/login' : '/');
  });

  return router;
}

/**
 * What a refused form post tells the person. People get a page, not JSON, also when Redis is
 * away or the hashing queue is full; a real fault (500) is rethrown to the error handler, which
 * logs it with its stack and never shows its message.
 */
function refusal(error: unknown): AppError {
  const answer = toAppError(error);
  if (answer.status === 500) throw error;
  return answer;
}

function sendForm(res: Response, answer: AppError, page: string) {
  res.set(answer.headers).status(answer.status).type('html').send(page);
}

/** The human names of the inputs, for messages that name the JSON field ("newPassword is required"). */
const FIELD_LABELS: Record<AccountField, string> = {
  username: 'Username',
  password: 'Password',
  currentPassword: 'Current password',
  newPassword: 'New password',
};

/** An error about one input goes beside it; anything else (throttled, busy) above the form. */
function formErrors(answer: AppError): FormErrors {
  if (!(answer instanceof FieldError)) return { form: answer.message };
  if (answer.field === 'currentPassword' && answer.status === 401)
    return { fields: { currentPassword: 'The current password is wrong.' } };
  // Parsing names the JSON field first ("newPassword is required"): say it as the label does.
  const { field, message } = answer;
  const named = message.startsWith(`${field} `) ? FIELD_LABELS[field] + message.slice(field.length) : message;
  return { fields: { [field]: sentence(named) } };
}

/** The API's messages are lower-case fragments ("password must be at least 12 characters"). */
function sentence(message: string): string {
  const capital = message.charAt(0).toUpperCase() + message.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

/** The username as typed, to fill the form again (bounded: a real one is at most this long). */
function typedUsername(req: Request): string {
  const body = req.body as { username?: unknown } | undefined;
  return typeof body?.username === 'string' ? body.username.slice(0, USERNAME_MAX_LENGTH * 2) : '';
}

const noticeUrl = (notice: Notice) => `/?notice=${notice}`;

/** Only a known key is honoured, so the URL can never put text of its own on the page. */
function noticeOf(req: Request): Notice | undefined {
  const key = req.query.notice;
  return typeof key === 'string' && Object.hasOwn(NOTICES, key) ? (key as Notice) : undefined;
}
