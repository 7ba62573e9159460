import { readFileSync } from 'node:fs';
import { z } from 'zod';

// How a setting's text becomes a value (config.ts): durations, integers, booleans, secrets.

const DURATION_UNITS_MS = {
  us: 0.001,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000,
};

/**
 * The one duration parser of the code base (settings, PromQL ranges, wrk's output), in
 * milliseconds: one or more `<number><unit>` parts ("90s", "1h30m", "1.5ms", "250us") in the
 * `units` allowed (all by default); a bare number means `bareUnit`, or is refused without one.
 */
export function parseDuration(
  text: string,
  options: { bareUnit?: DurationUnit; units?: readonly DurationUnit[] } = {},
): number | undefined {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed))
    return options.bareUnit ? Number(trimmed) * DURATION_UNITS_MS[options.bareUnit] : undefined;
  const units = options.units ?? (Object.keys(DURATION_UNITS_MS) as DurationUnit[]);
  const part = `(\\d+(?:\\.\\d+)?)(${[...units].sort((a, b) => b.length - a.length).join('|')})`;
  if (!new RegExp(`^(?:${part})+$`).test(trimmed)) return undefined;
  let total = 0;
  for (const [, value, unit] of trimmed.matchAll(new RegExp(part, 'g')))
    total += Number(value) * DURATION_UNITS_MS[unit as DurationUnit];
  return total;
}

type DurationUnit = keyof typeof DURATION_UNITS_MS;

/** A setting's duration: "900" (seconds), "90s", "30m", "12h", "1d", "250ms" -> whole milliseconds. */
export function parseDurationMs(text: string, { allowZero = false } = {}): number | undefined {
  const parsed = parseDuration(text, { bareUnit: 's', units: ['ms', 's', 'm', 'h', 'd'] });
  const value = parsed === undefined ? undefined : Math.round(parsed);
  return value !== undefined && Number.isFinite(value) && (value > 0 || (allowZero && value === 0)) ? value : undefined;
}

export const duration = (fallback: string, options: { allowZero?: boolean } = {}) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const ms = parseDurationMs(text, options);
      if (ms === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `expected a duration like ${options.allowZero ? '0, ' : ''}900, 90s, 30m, 12h or 1d, got "${text}"`,
        });
        return z.NEVER;
      }
      return ms;
    });

export const integer = (fallback: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

export const boolean = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'expected true or false' })
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

export const optionalSecret = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v === '' ? undefined : v));

/** Resolves NAME_FILE into NAME for the secret keys; both set is an error. */
export function resolveSecretFiles(
  env: NodeJS.ProcessEnv,
  secretKeys: readonly string[],
  issues: string[],
): Record<string, string | undefined> {
  const resolved: Record<string, string | undefined> = { ...env };
  for (const key of secretKeys) {
    const file = env[`${key}_FILE`];
    if (!file) continue;
    if (env[key]) {
      issues.push(`${key}: set either ${key} or ${key}_FILE, not both`);
      continue;
    }
    try {
      resolved[key] = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (error) {
      issues.push(`${key}_FILE: cannot read "${file}" (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  return resolved;
}
