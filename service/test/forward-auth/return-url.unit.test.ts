import { describe, expect, it } from '@jest/globals';
import { returnOrigins, safeReturnUrl } from '../../src/forward-auth/return-url.ts';

const ORIGINS = returnOrigins('https://auth.example.com', ['app.example.com']);

describe('return URLs after sign-in (safeReturnUrl)', () => {
  it.each([
    ['a path on the public origin', '/sessions?x=1', 'https://auth.example.com/sessions?x=1'],
    ['the public origin', 'https://auth.example.com/', 'https://auth.example.com/'],
    ['a protected host', 'https://app.example.com/demo/?a=b&c=d#top', 'https://app.example.com/demo/?a=b&c=d#top'],
    ['a protected host in mixed case', 'HTTPS://APP.Example.COM/x', 'https://app.example.com/x'],
    ['a path with encoded slashes (stays a path here)', '/%2F%2Fevil.com', 'https://auth.example.com/%2F%2Fevil.com'],
    ['a path with double-encoded slashes', '/%252F%252Fevil.com', 'https://auth.example.com/%252F%252Fevil.com'],
  ])('when it is %s, then it is followed', (_what, raw, expected) => {
    expect(safeReturnUrl(raw, ORIGINS)).toBe(expected);
  });

  it.each([
    ['protocol-relative', '//evil.com'],
    ['protocol-relative with three slashes', '///evil.com'],
    ['a backslash a browser reads as a slash', '/\\evil.com'],
    ['backslashes only', '\\\\evil.com'],
    ['a look-alike suffix', 'https://auth.example.com.evil.com/'],
    ['a look-alike prefix', 'https://evilauth.example.com/'],
    ['userinfo with the right name first', 'https://auth.example.com@evil.com/'],
    ['userinfo on an allowed host', 'https://user:pass@auth.example.com/'],
    ['plain http to an allowed host', 'http://auth.example.com/'],
    ['another port on an allowed host', 'https://auth.example.com:8443/'],
    ['javascript:', 'javascript:alert(1)'],
    ['javascript: in mixed case', 'JaVaScRiPt:alert(1)'],
    ['data:', 'data:text/html,<script>alert(1)</script>'],
    ['CR/LF (header injection)', '/x\r\nSet-Cookie: a=b'],
    ['an encoded CR/LF decoded once already', '/x\nLocation: https://evil.com'],
    ['a tab inside the scheme', 'java\tscript:alert(1)'],
    ['percent-encoded protocol-relative, as received before decoding', '%2F%2Fevil.com'],
    ['a relative path without a leading slash', 'evil.com'],
    ['an unlisted https origin', 'https://evil.com/'],
    ['empty', ''],
    ['not a string (a repeated query parameter)', ['/a', '/b']],
  ])('when it is %s, then the fallback is used', (_what, raw) => {
    expect(safeReturnUrl(raw, ORIGINS, '/')).toBe('/');
  });

  it('when the public origin has a port, then protected hosts are allowed on that port only', () => {
    const origins = returnOrigins('https://auth.example.test:8443', ['app.example.test']);
    expect(safeReturnUrl('https://app.example.test:8443/x', origins)).toBe('https://app.example.test:8443/x');
    expect(safeReturnUrl('https://app.example.test/x', origins)).toBe('/');
  });
});
