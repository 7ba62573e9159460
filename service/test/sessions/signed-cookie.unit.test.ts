import { sign } from 'cookie-signature';
import { describe, expect, it } from '@jest/globals';
import { SessionCookieVerifier, cookieValue } from '../../src/sessions/signed-cookie.ts';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const signedWith = (secret: string, id = 'session-id') => `s:${sign(id, secret)}`;

describe('SessionCookieVerifier', () => {
  it('when a cookie is signed with the newest secret, then it verifies at index 0; with an older one, at its index (a fallback)', () => {
    const verifier = new SessionCookieVerifier([B, A]);

    expect(verifier.verify(signedWith(B))).toEqual({ sessionId: 'session-id', secretIndex: 0 });
    expect(verifier.verify(signedWith(A))).toEqual({ sessionId: 'session-id', secretIndex: 1 });
  });

  it('when a cookie is signed with an unknown secret, tampered with or unsigned, then it does not verify, also when asked again', () => {
    const verifier = new SessionCookieVerifier([B, A]);
    const tampered = signedWith(B).replace('session-id', 'other-id');

    for (let i = 0; i < 2; i += 1) {
      expect(verifier.verify(signedWith('c'.repeat(40)))).toBeUndefined();
      expect(verifier.verify(tampered)).toBeUndefined();
      expect(verifier.verify('session-id')).toBeUndefined();
      expect(verifier.verify(undefined)).toBeUndefined();
    }
  });

  it('when more distinct cookies verify than the cache holds, then the oldest are forgotten and still verify by HMAC', () => {
    const verifier = new SessionCookieVerifier([A], 2);
    const cookies = ['one', 'two', 'three'].map((id) => signedWith(A, id));

    for (const cookie of cookies) verifier.verify(cookie);

    expect(cookies.map((c) => verifier.verify(c)?.sessionId)).toEqual(['one', 'two', 'three']);
  });

  it('when a session id is signed, then the value verifies with the newest secret', () => {
    const verifier = new SessionCookieVerifier([B, A]);

    expect(verifier.verify(verifier.signed('xyz'))).toEqual({ sessionId: 'xyz', secretIndex: 0 });
  });
});

describe('cookieValue', () => {
  it('when the header holds the cookie among others, then its value; when not, undefined', () => {
    expect(cookieValue('a=1; __Host-sid=s%3Aabc.def; b=2', '__Host-sid')).toBe('s:abc.def');
    expect(cookieValue('a=1', '__Host-sid')).toBeUndefined();
    expect(cookieValue(undefined, '__Host-sid')).toBeUndefined();
  });
});
