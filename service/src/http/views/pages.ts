import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../../auth/password-policy.ts';
import type { SessionSummary, SessionTimes } from '../../sessions/session-manager.ts';
import { USERNAME_MAX_LENGTH } from '../../users/username.ts';
import { field, formError, withFocus, type FieldSpec } from './forms.ts';
import { html, layout } from './html.ts';

/** What went wrong with a form submission: per input (by name), and/or with the whole of it. */
export interface FormErrors {
  form?: string;
  fields?: Partial<Record<string, string>>;
}

const hasErrors = (errors: FormErrors | undefined) => Boolean(errors?.form || Object.keys(errors?.fields ?? {}).length);

/** The password policy (auth/password-policy.ts), said where a new password is chosen. */
export const PASSWORD_POLICY_HINT = `Use at least ${PASSWORD_MIN_LENGTH} and at most ${PASSWORD_MAX_LENGTH} characters. Commonly used passwords and ones close to your username are refused.`;
const USERNAME_HINT = `Up to ${USERNAME_MAX_LENGTH} characters: letters, digits and . _ @ -`;

/** A field for choosing a password: the policy as its hint, and its limits as attributes. */
const newPasswordField = (name: string, label: string): FieldSpec => ({
  name,
  label,
  type: 'password',
  autocomplete: 'new-password',
  hint: PASSWORD_POLICY_HINT,
  minLength: PASSWORD_MIN_LENGTH,
  maxLength: PASSWORD_MAX_LENGTH,
});

/** The username field; `more` adds what one form needs (the sign-up hint, read-only on the password page). */
const usernameField = (value: string | undefined, more: Partial<FieldSpec> = {}): FieldSpec => ({
  name: 'username',
  label: 'Username',
  type: 'text',
  autocomplete: 'username',
  value: value ?? '',
  ...more,
});

/** The notices a page may be redirected to show (by key, so no text is taken from the URL). */
export const NOTICES = {
  'password-changed': 'Your password was changed. Your other sessions were signed out.',
  registered: 'Your account was created and you are signed in.',
} as const;
export type Notice = keyof typeof NOTICES;

function fields(specs: FieldSpec[], errors: FormErrors | undefined) {
  return withFocus(specs.map((spec) => ({ ...spec, error: errors?.fields?.[spec.name] }))).map(field);
}

export function loginPage(
  options: { username?: string; errors?: FormErrors; signupEnabled?: boolean; returnTo?: string } = {},
): string {
  const inputs = fields(
    [
      usernameField(options.username, { maxLength: USERNAME_MAX_LENGTH }),
      { name: 'password', label: 'Password', type: 'password', autocomplete: 'current-password' },
    ],
    options.errors,
  );
  return layout(
    'Sign in',
    html`<h1>Sign in</h1>
      ${formError(options.errors?.form)}
      <form method="post" action="/login">
        ${options.returnTo ? html`<input type="hidden" name="rd" value="${options.returnTo}" />` : ''} ${inputs}
        <button type="submit">Sign in</button>
      </form>
      ${options.signupEnabled ? html`<p class="aside">No account yet? <a href="/register">Create an account</a></p>` : ''}`,
    { hasErrors: hasErrors(options.errors) },
  );
}

export function registerPage(options: { username?: string; errors?: FormErrors } = {}): string {
  const inputs = fields(
    [
      usernameField(options.username, { hint: USERNAME_HINT, maxLength: USERNAME_MAX_LENGTH }),
      newPasswordField('password', 'Password'),
    ],
    options.errors,
  );
  return layout(
    'Create an account',
    html`<h1>Create an account</h1>
      ${formError(options.errors?.form)}
      <form method="post" action="/register">
        ${inputs}
        <button type="submit">Create account</button>
      </form>
      <p class="aside">Already have an account? <a href="/login">Sign in</a></p>`,
    { hasErrors: hasErrors(options.errors) },
  );
}

export function passwordPage(options: { username: string; errors?: FormErrors }): string {
  const inputs = fields(
    [
      // Shown read-only so password managers know which account the new password belongs to.
      usernameField(options.username, { readonly: true }),
      { name: 'currentPassword', label: 'Current password', type: 'password', autocomplete: 'current-password' },
      newPasswordField('newPassword', 'New password'),
    ],
    options.errors,
  );
  return layout(
    'Change password',
    html`<h1>Change password</h1>
      ${formError(options.errors?.form)}
      <p>Changing your password signs you out everywhere else.</p>
      <form method="post" action="/password">
        ${inputs}
        <button type="submit">Change password</button>
      </form>
      <p class="aside"><a href="/">Back to your sessions</a></p>`,
    { hasErrors: hasErrors(options.errors) },
  );
}

function when(iso: string) {
  return html`<time datetime="${iso}">${iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}</time>`;
}

export function dashboardPage(data: {
  username: string;
  groups: readonly string[];
  times: SessionTimes;
  sessions: SessionSummary[];
  notice?: Notice;
}): string {
  const rows = data.sessions.map(
    (s) => html`<tr${s.current ? html` class="current"` : ''}>
  <td>${s.ip}</td><td class="ua">${s.userAgent || '—'}</td><td>${when(s.createdAt)}</td><td>${when(s.lastSeenAt)}</td>
  <td>${
    s.current
      ? html`this session`
      : html`<form method="post" action="/sessions/${s.id}/revoke">
          <button type="submit" class="link">Revoke</button>
        </form>`
  }</td>
</tr>`,
  );
  return layout(
    'Dashboard',
    html`${data.notice ? html`<p class="notice" role="status">${NOTICES[data.notice]}</p>` : ''}
      <h1>Signed in as <span class="username">${data.username}</span></h1>
      <dl class="times">
        <dt>Groups</dt>
        <dd class="groups">${data.groups.length > 0 ? data.groups.join(', ') : 'none'}</dd>
        <dt>Signed in</dt>
        <dd>${when(data.times.createdAt)}</dd>
        <dt>Expires if idle</dt>
        <dd>${when(data.times.expiresAt)}</dd>
        <dt>Expires at the latest</dt>
        <dd>${when(data.times.absoluteExpiresAt)}</dd>
      </dl>
      <h2>Your sessions</h2>
      <table class="sessions">
        <thead>
          <tr>
            <th>IP</th>
            <th>Browser</th>
            <th>Signed in</th>
            <th>Last seen</th>
            <th><span class="visually-hidden">Action</span></th>
          </tr>
        </thead>
        <tbody>
          ${rows}
        </tbody>
      </table>
      ${data.sessions.length > 1 ? html`<form method="post" action="/sessions/revoke-others"><button type="submit" class="secondary">Sign out everywhere else</button></form>` : ''}
      <p class="aside"><a href="/password">Change password</a></p>
      <form method="post" action="/logout"><button type="submit">Sign out</button></form>`,
  );
}
