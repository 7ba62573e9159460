import type { Request } from 'express';
import { z } from 'zod';
import { invalidRequest, unsupportedMediaType } from '../errors.ts';
import { PASSWORD_MAX_LENGTH } from '../auth/password-policy.ts';
import { usernameProblem } from '../users/username.ts';

/**
 * A username that cannot exist (too long before or after normalization, characters no username
 * has) is refused here with 400, before it is normalized, looked up, hashed or counted: what a
 * client sends can never make the service do (or store) more than a real username would.
 */
const username = z
  .string({ message: 'username must be a string' })
  .min(1, 'username is required')
  .superRefine((value, ctx) => {
    const problem = usernameProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
// Bounded before hashing: argon2 on megabytes of input is a cheap DoS lever otherwise.
const password = (field: string) =>
  z
    .string({ message: `${field} must be a string` })
    .min(1, `${field} is required`)
    .max(PASSWORD_MAX_LENGTH * 4, `${field} is too long`);

export const credentialsSchema = z.object({ username, password: password('password') });
export const passwordChangeSchema = z.object({
  currentPassword: password('currentPassword'),
  newPassword: password('newPassword'),
});

/** JSON API bodies must be declared as JSON: 415 otherwise (also blocks CSRF via simple forms). */
export function requireJson(req: Request): void {
  if (!req.is('application/json')) {
    throw unsupportedMediaType();
  }
}

export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const result = schema.safeParse(body ?? {});
  if (!result.success) {
    const first = result.error.issues[0];
    throw invalidRequest(first?.message && first.code !== 'invalid_type' ? first.message : describeIssue(first));
  }
  return result.data;
}

function describeIssue(issue: z.core.$ZodIssue | undefined): string {
  if (!issue) return 'The request body is invalid.';
  if (issue.path.length === 0) return 'The request body must be a JSON object.';
  return issue.message;
}
