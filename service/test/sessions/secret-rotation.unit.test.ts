import { describe, expect, it } from 'vitest';
import { sign } from 'cookie-signature';
import { matchCookieSecret } from '../../src/sessions/secret-rotation.ts';

const A = 'a'.repeat(32);
const B = 'b'.repeat(32);
const cookie = (secret: string, name = 'sid') => `other=1; ${name}=${encodeURIComponent(`s:${sign('session-id', secret)}`)}`;

describe('matchCookieSecret', () => {
  it('when the cookie is signed with the newest secret, then current', () => {
    expect(matchCookieSecret(cookie(B), 'sid', [B, A])).toBe('current');
  });

  it('when the cookie verifies only with an older secret, then fallback', () => {
    expect(matchCookieSecret(cookie(A), 'sid', [B, A])).toBe('fallback');
  });

  it('when no listed secret verifies it, then none', () => {
    expect(matchCookieSecret(cookie('c'.repeat(32)), 'sid', [B, A])).toBe('none');
    expect(matchCookieSecret('sid=unsigned', 'sid', [B, A])).toBe('none');
  });

  it('when there is no such cookie, then absent', () => {
    expect(matchCookieSecret(undefined, 'sid', [A])).toBe('absent');
    expect(matchCookieSecret(cookie(A, 'other-name'), 'sid', [A])).toBe('absent');
  });
});
