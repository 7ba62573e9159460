import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { ConfigError } from '../../src/config/config.ts';
import { AccessRules } from '../../src/forward-auth/access-rules.ts';

const dir = mkdtempSync(join(tmpdir(), 'access-rules-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (content: unknown) => {
  const path = join(dir, `${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
};

const RULES = {
  rules: [
    { name: 'demo-staff', host: 'app.example.com', path: '/demo/', groups: ['staff'] },
    { name: 'demo-bob-read', host: 'app.example.com', path: '/demo/', methods: ['GET', 'HEAD'], users: ['bob'] },
    { name: 'admin', host: 'App.Example.com', path: '/admin', users: ['alice'] },
  ],
};
const alice = { username: 'alice', groups: ['staff'] };
const bob = { username: 'bob', groups: [] };
const at = (path: string, method = 'GET', host = 'app.example.com') => ({ host, path, method });

describe('access rules (forward auth)', () => {
  const rules = AccessRules.load(file(RULES));

  it('when a rule covers the request and names one of the user’s groups, then it is allowed by that rule', () => {
    expect(rules.decide(alice, at('/demo/page'))).toEqual({ decision: 'allowed', rule: 'demo-staff' });
  });

  it('when a rule admits the user for some methods only, then other methods are denied', () => {
    expect(rules.decide(bob, at('/demo/', 'GET'))).toEqual({ decision: 'allowed', rule: 'demo-bob-read' });
    expect(rules.decide(bob, at('/demo/', 'POST'))).toEqual({ decision: 'denied', rule: 'demo-staff' });
  });

  it('when no rule covers the host or path, then it is denied (default deny)', () => {
    expect(rules.decide(alice, at('/other'))).toEqual({ decision: 'denied', rule: 'none' });
    expect(rules.decide(alice, at('/demo/', 'GET', 'elsewhere.example.com'))).toEqual({
      decision: 'denied',
      rule: 'none',
    });
  });

  it('when a prefix has no trailing slash, then it matches whole segments only', () => {
    expect(rules.decide(alice, at('/admin')).decision).toBe('allowed');
    expect(rules.decide(alice, at('/admin/users')).decision).toBe('allowed');
    expect(rules.decide(alice, at('/administrator')).rule).toBe('none');
  });

  it('when hosts differ in case, then they still match', () => {
    expect(rules.decide(alice, at('/admin', 'GET', 'APP.EXAMPLE.COM')).decision).toBe('allowed');
  });

  it('when there is no rules file, then everything is denied', () => {
    expect(AccessRules.load(undefined).decide(alice, at('/demo/'))).toEqual({ decision: 'denied', rule: 'none' });
  });

  it.each([
    'deploy/access-rules.json',
    'deploy/k8s/service/access-rules.json',
    'deploy/k8s/examples/ingress-nginx/access-rules.json',
  ])('when the shipped %s is loaded, then it is valid', (shipped) => {
    expect(() => AccessRules.load(join(import.meta.dirname, '../../..', shipped))).not.toThrow();
  });

  it.each([
    ['not JSON', '{rules: ['],
    ['an unknown key', { rules: [{ name: 'a', host: 'h.example', groups: ['g'], extra: 1 }] }],
    ['a rule admitting nobody', { rules: [{ name: 'a', host: 'h.example' }] }],
    ['a host with a scheme', { rules: [{ name: 'a', host: 'https://h.example', users: ['u'] }] }],
    ['a relative path', { rules: [{ name: 'a', host: 'h.example', path: 'demo', users: ['u'] }] }],
    ['an unknown method', { rules: [{ name: 'a', host: 'h.example', methods: ['FETCH'], users: ['u'] }] }],
    ['an uppercase group', { rules: [{ name: 'a', host: 'h.example', groups: ['Staff'] }] }],
    ['a name unfit for a metric label', { rules: [{ name: 'A rule', host: 'h.example', users: ['u'] }] }],
    [
      'duplicate names',
      {
        rules: [
          { name: 'a', host: 'h.example', users: ['u'] },
          { name: 'a', host: 'i.example', users: ['u'] },
        ],
      },
    ],
  ])('when the file has %s, then loading fails naming ACCESS_RULES_FILE', (_what, content) => {
    const path = file(content);
    expect(() => AccessRules.load(path)).toThrow(ConfigError);
    expect(() => AccessRules.load(path)).toThrow(/ACCESS_RULES_FILE/);
  });
});
