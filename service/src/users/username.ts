/**
 * Usernames are unique case-insensitively. NFKC folds look-alike compatibility forms
 * (full-width letters, ligatures) before lower-casing, so "Ａｌｉｃｅ" and "alice" collide.
 */
export function normalizeUsername(username: string): string {
  return username.normalize('NFKC').toLowerCase();
}

export const USERNAME_MAX_LENGTH = 64;

/** Letters, digits and . _ @ - ; 1-64 characters. Returns a reason when invalid. */
export function usernameProblem(username: string): string | undefined {
  const length = [...username].length;
  if (length < 1 || length > USERNAME_MAX_LENGTH) return `username must be 1 to ${USERNAME_MAX_LENGTH} characters`;
  if (!/^[\p{L}\p{N}._@-]+$/u.test(username)) return 'username may contain letters, digits and . _ @ - only';
  return undefined;
}
