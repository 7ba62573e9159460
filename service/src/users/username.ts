/**
 * Usernames are unique case-insensitively. NFKC folds look-alike compatibility forms
 * (full-width letters, ligatures) before lower-casing, so "Ａｌｉｃｅ" and "alice" collide.
 */
export function normalizeUsername(username: string): string {
  return username.normalize('NFKC').toLowerCase();
}

export const USERNAME_MAX_LENGTH = 64;

const codePoints = (text: string): number => {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
};

/**
 * Letters, digits and . _ @ - ; 1 to 64 characters, before and after normalization: NFKC can
 * expand one character into 18 (U+FDFA), and nothing longer than a real username is ever
 * normalized, looked up or counted. Returns a reason when invalid.
 */
export function usernameProblem(username: string): string | undefined {
  // 64 code points are at most 128 UTF-16 units: a longer string is refused before any work.
  if (username.length === 0 || username.length > USERNAME_MAX_LENGTH * 2 || codePoints(username) > USERNAME_MAX_LENGTH) {
    return `username must be 1 to ${USERNAME_MAX_LENGTH} characters`;
  }
  if (!/^[\p{L}\p{N}._@-]+$/u.test(username)) return 'username may contain letters, digits and . _ @ - only';
  if (codePoints(normalizeUsername(username)) > USERNAME_MAX_LENGTH) return `username must be at most ${USERNAME_MAX_LENGTH} characters once normalized`;
  return undefined;
}
