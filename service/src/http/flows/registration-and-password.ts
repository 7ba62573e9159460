import type { Request, Response } from 'express';
import type { z } from 'zod';
import type { Accounts } from '../../auth/accounts.ts';
import type { Authenticator } from '../../auth/authenticator.ts';
import type { DeviceTrust } from '../../auth/device-trust.ts';
import type { SignupLimit } from '../../auth/login-throttle.ts';
import { AppError, notFound, tooManyAttempts } from '../../errors.ts';
import type { SessionManager, SessionUser } from '../../sessions/session-manager.ts';
import type { User } from '../../users/user-repository.ts';
import { credentialsSchema, parseBody, passwordChangeSchema } from '../request-body.ts';
import type { DeviceCookie } from './device-cookie.ts';

/** The inputs of the account forms, named as the JSON API names its fields. */
export type AccountField = 'username' | 'password' | 'currentPassword' | 'newPassword';

/**
 * An AppError about one input. The JSON API answers it like any AppError (same status, code and
 * message); the HTML forms show it beside that input (aria-describedby).
 */
export class FieldError extends AppError {
  readonly field: AccountField;

  constructor(error: AppError, field: AccountField) {
    super(error.status, error.code, error.message, error.headers);
    this.field = field;
  }
}

export interface AccountFlow {
  /**
   * Checks the current password under the login throttle, applies the password policy to the
   * new one, ends every other session of the user and renews the caller's. Returns how many
   * other sessions ended.
   */
  changePassword(req: Request, res: Response, user: SessionUser): Promise<{ revoked: number }>;
  /** Whether sign-up exists at all (SIGNUP_ENABLED); when not, register answers 404. */
  readonly signupEnabled: boolean;
  /** Creates the user under the per-IP sign-up limit and signs them in. */
  register(req: Request): Promise<User>;
}

/**
 * Password change and sign-up, shared by the JSON API and the HTML forms (like the sign-in
 * flow), so both apply the same policy, throttles and audit events. The caller checks the media
 * type (JSON for the API, urlencoded for the forms); the fields are validated here.
 */
export function createAccountFlow(deps: {
  authenticator: Authenticator;
  accounts: Accounts;
  sessions: SessionManager;
  devices: DeviceTrust;
  deviceCookie: DeviceCookie;
  signup: { enabled: boolean; limit: SignupLimit };
}): AccountFlow {
  const { authenticator, accounts, sessions, devices, deviceCookie, signup } = deps;
  return {
    async changePassword(req, res, user) {
      const { currentPassword, newPassword } = parseFields(passwordChangeSchema, req.body);
      // The current password is checked under the login throttle: a stolen session must not
      // become an unlimited password-guessing oracle.
      const { deviceId } = await about({ 401: 'currentPassword' }, () =>
        authenticator.authenticate(user.username, currentPassword, {
          ip: req.ip ?? '',
          deviceToken: deviceCookie.presented(req),
          log: req.log,
          purpose: 'password_change',
        }),
      );
      const changed = await about({ 400: 'newPassword' }, () =>
        accounts.changePassword(user, newPassword, req.sessionID),
      );
      // A fresh id for the session that made the change (its old record ends with it), carrying
      // the new credential version; every other session is already gone. Every device cookie
      // ended with the change too: this browser gets its own again, for the new generation.
      await sessions.establish(req, changed.user);
      deviceCookie.set(req, res, devices.issue(changed.user, deviceId));
      return { revoked: changed.revoked };
    },

    signupEnabled: signup.enabled,

    async register(req) {
      // 404 rather than 403: with sign-up off the endpoint simply does not exist.
      if (!signup.enabled) throw notFound('No such route.');
      const { username, password } = parseFields(credentialsSchema, req.body);
      // Throttled per IP because this endpoint necessarily reveals which names are taken.
      const waitMs = await signup.limit.take(req.ip ?? '');
      if (waitMs !== undefined) throw tooManyAttempts(waitMs);
      // The username passed the same rules in parsing, so a 400 from here is about the password.
      const user = await about({ 400: 'password', 409: 'username' }, () => accounts.create(username, password));
      await sessions.establish(req, user);
      req.log.info({ event: 'user.registered', userId: user.id, ip: req.ip }, 'user registered');
      return user;
    },
  };
}

/** parseBody, with the first offending input named (zod reports it as the issue's path). */
function parseFields<T extends z.ZodObject>(schema: T, body: unknown): z.output<T> {
  try {
    return parseBody(schema, body);
  } catch (error) {
    const field = schema.safeParse(body ?? {}).error?.issues[0]?.path[0];
    throw typeof field === 'string' && error instanceof AppError ? new FieldError(error, field as AccountField) : error;
  }
}

/** Runs a step whose refusals with these statuses are about one input each. */
async function about<T>(fields: Partial<Record<number, AccountField>>, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    const field = error instanceof AppError ? fields[error.status] : undefined;
    throw field && !(error instanceof FieldError) ? new FieldError(error as AppError, field) : error;
  }
}
