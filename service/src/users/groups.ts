/**
 * Group names: what access rules (forward-auth/access-rules.ts) name and users are put in
 * (`users groups`). Lowercase, so `Staff` and `staff` can never be two groups a rule confuses;
 * no comma, because the Remote-Groups header lists them comma-separated.
 */
export const GROUP_NAME = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

export function assertGroupName(name: string): string {
  if (!GROUP_NAME.test(name))
    throw new Error(`group "${name}": use 1-64 of a-z, 0-9, _ . - (starting with a letter or digit)`);
  return name;
}

/** The stored form: a JSON array, sorted and without duplicates (absent on users from before groups). */
export function parseGroups(stored: string | undefined): string[] {
  if (!stored) return [];
  const parsed: unknown = JSON.parse(stored);
  return Array.isArray(parsed) ? parsed.filter((g): g is string => typeof g === 'string') : [];
}

export function serializeGroups(groups: Iterable<string>): string {
  return JSON.stringify([...new Set(groups)].sort());
}
