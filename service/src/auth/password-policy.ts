import { dictionary } from '@zxcvbn-ts/language-common';

export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 1024;

/**
 * NIST SP 800-63B: a length floor, a generous ceiling (argon2 hashes all of it; nothing is
 * truncated), no composition rules, and a blocklist of commonly used passwords. The list
 * is zxcvbn-ts's maintained "passwords-common" dictionary (~30k entries).
 */
const COMMON_PASSWORDS: ReadonlySet<string> = new Set(dictionary['passwords-common'].map((p) => p.toLowerCase()));

export type PasswordProblem = { code: 'invalid_request' | 'weak_password'; message: string };

/** Length is counted in code points, so an emoji counts once, as users expect. */
export function passwordProblem(password: string, context: { username?: string } = {}): PasswordProblem | undefined {
  const length = [...password].length;
  if (length > PASSWORD_MAX_LENGTH) {
    return { code: 'invalid_request', message: `password must be at most ${PASSWORD_MAX_LENGTH} characters` };
  }
  if (length < PASSWORD_MIN_LENGTH) {
    return { code: 'weak_password', message: `password must be at least ${PASSWORD_MIN_LENGTH} characters` };
  }
  const lowered = password.normalize('NFKC').toLowerCase();
  if (COMMON_PASSWORDS.has(lowered)) {
    return { code: 'weak_password', message: 'this password is on a list of commonly used passwords; choose another' };
  }
  if (
    context.username &&
    lowered.includes(context.username.normalize('NFKC').toLowerCase()) &&
    lowered.length - context.username.length < 6
  ) {
    return { code: 'weak_password', message: 'the password must not be (a variant of) the username' };
  }
  return undefined;
}
