import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../config/config.ts';
import { GROUP_NAME } from '../users/groups.ts';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

const ruleSchema = z
  .object({
    /** The rule's name: the `rule` label of the decisions metric, so the labels are bounded by the file. */
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'use a-z, 0-9, _ and - (a metric label)'),
    /** The protected host, as browsers name it (no scheme, no port). */
    host: z
      .string()
      .transform((h) => h.toLowerCase())
      .pipe(z.string().regex(/^(?=.{1,253}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/)),
    /** A path prefix, matched on whole segments: /demo/ covers /demo/ and below; /demo also /demo itself. */
    path: z.string().startsWith('/').default('/'),
    /** Only these methods (default: any). */
    methods: z.array(z.enum(METHODS)).nonempty().optional(),
    users: z.array(z.string().min(1)).default([]),
    groups: z.array(z.string().regex(GROUP_NAME, 'a group name: lowercase a-z, 0-9, _ . -')).default([]),
  })
  .strict()
  .refine((rule) => rule.users.length + rule.groups.length > 0, 'a rule must admit at least one user or group');

const fileSchema = z
  .object({ rules: z.array(ruleSchema) })
  .strict()
  .superRefine((file, ctx) => {
    const seen = new Set<string>();
    for (const [i, rule] of file.rules.entries()) {
      if (seen.has(rule.name)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'name'], message: 'duplicate name' });
      seen.add(rule.name);
    }
  });

export type AccessRule = z.infer<typeof ruleSchema>;
export type Decision = { decision: 'allowed' | 'denied'; rule: string };
/** The `rule` label of a request that no rule covers. */
export const NO_RULE = 'none';

/** What the request asks for: the original request's host, path and method (from the edge). */
export interface AccessRequest {
  host: string;
  path: string;
  method: string;
}

const underPrefix = (path: string, prefix: string) =>
  prefix.endsWith('/') ? path.startsWith(prefix) : path === prefix || path.startsWith(`${prefix}/`);

/**
 * The access rules of forward authentication, from one JSON file (ACCESS_RULES_FILE). Default
 * deny: a request is allowed only when a rule covering its host, path and method names the user
 * or one of their groups. No rules file: every request is denied.
 */
export class AccessRules {
  readonly rules: readonly AccessRule[];

  constructor(rules: readonly AccessRule[] = []) {
    this.rules = rules;
  }

  /** Reads and validates the file; a ConfigError names the file and each problem. */
  static load(file: string | undefined): AccessRules {
    if (!file) return new AccessRules();
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new ConfigError([`ACCESS_RULES_FILE: cannot read ${file} as JSON (${(error as Error).message})`]);
    }
    const parsed = fileSchema.safeParse(raw);
    if (!parsed.success)
      throw new ConfigError(
        parsed.error.issues.map((issue) => `ACCESS_RULES_FILE ${file}: ${issue.path.join('.')}: ${issue.message}`),
      );
    return new AccessRules(parsed.data.rules);
  }

  /** The hosts the rules protect: the only other origins a sign-in may return to. */
  hosts(): string[] {
    return [...new Set(this.rules.map((rule) => rule.host))];
  }

  decide(user: { username: string; groups: readonly string[] }, request: AccessRequest): Decision {
    const host = request.host.toLowerCase();
    const covering = this.rules.filter(
      (rule) =>
        rule.host === host &&
        underPrefix(request.path, rule.path) &&
        (!rule.methods || (rule.methods as readonly string[]).includes(request.method)),
    );
    const admitting = covering.find(
      (rule) => rule.users.includes(user.username) || rule.groups.some((group) => user.groups.includes(group)),
    );
    if (admitting) return { decision: 'allowed', rule: admitting.name };
    return { decision: 'denied', rule: covering[0]?.name ?? NO_RULE };
  }
}
