import unhomoglyph from 'unhomoglyph';
import { UNICODE_SCRIPTS } from './unicode-scripts.ts';

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
  if (
    username.length === 0 ||
    username.length > USERNAME_MAX_LENGTH * 2 ||
    codePoints(username) > USERNAME_MAX_LENGTH
  ) {
    return `username must be 1 to ${USERNAME_MAX_LENGTH} characters`;
  }
  if (!/^[\p{L}\p{N}._@-]+$/u.test(username)) return 'username may contain letters, digits and . _ @ - only';
  if (codePoints(normalizeUsername(username)) > USERNAME_MAX_LENGTH)
    return `username must be at most ${USERNAME_MAX_LENGTH} characters once normalized`;
  return undefined;
}

/**
 * The confusable skeleton of a username (Unicode TS #39, section 4): names with the same skeleton
 * look alike ("admin", "аdmin" with a Cyrillic а, "admın" with a dotless ı). The prototype mapping
 * is Unicode's confusables.txt, through unhomoglyph; around it, as the standard says: NFD, default
 * ignorable code points removed, NFD again. It starts from the normalized name (NFKC, lower case:
 * usernames are case-insensitive) and ends in lower case, since some prototypes are capitals
 * (0 maps to O): both only add collisions, the safe direction for names.
 */
export function usernameSkeleton(username: string): string {
  const decomposed = normalizeUsername(username)
    .normalize('NFD')
    .replace(/\p{Default_Ignorable_Code_Point}/gu, '');
  return unhomoglyph(decomposed).normalize('NFD').toLowerCase();
}

const SCRIPTS = UNICODE_SCRIPTS.map((name) => [name, new RegExp(`^\\p{Script_Extensions=${name}}$`, 'u')] as const);
/** Characters every script uses (digits, . _ @ -, combining marks): they mix with anything. */
const ANY_SCRIPT = /^[\p{Script_Extensions=Common}\p{Script_Extensions=Inherited}]$/u;
/**
 * The writing systems that mix scripts by nature (UTS #39, 5.1): Han with kana is Japanese, Han
 * with Hangul is Korean, Han with Bopomofo is Chinese.
 */
const WRITING_SYSTEMS: Partial<Record<string, readonly string[]>> = {
  Han: ['Japanese', 'Korean', 'Han_with_Bopomofo'],
  Hiragana: ['Japanese'],
  Katakana: ['Japanese'],
  Hangul: ['Korean'],
  Bopomofo: ['Han_with_Bopomofo'],
};

/**
 * Whether a name's letters come from more than one script: its resolved script set (UTS #39,
 * 5.1) is empty. "раураl" (Cyrillic and Latin) is; "alice", "иван", "田中たろう" and "alice.2" are not.
 */
export function isMixedScript(username: string): boolean {
  let shared: string[] | undefined;
  for (const char of username.normalize('NFD')) {
    if (ANY_SCRIPT.test(char)) continue;
    const scripts = SCRIPTS.filter(([, pattern]) => pattern.test(char)).flatMap(([name]) => [
      name,
      ...(WRITING_SYSTEMS[name] ?? []),
    ]);
    // A letter of a script not in the list is a script of its own.
    const own = scripts.length > 0 ? scripts : [`unlisted ${char}`];
    shared = shared === undefined ? own : shared.filter((script) => own.includes(script));
    if (shared.length === 0) return true;
  }
  return false;
}
