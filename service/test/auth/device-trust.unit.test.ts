import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { DeviceTrust } from '../../src/auth/device-trust.ts';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const DAY = 86_400_000;
const clockAt = (now: number) => ({ now: () => now });
const trustAt = (secrets: string[], now: number) =>
  new DeviceTrust({ secrets, maxAgeMs: 90 * DAY, clock: clockAt(now) });
const alice = { id: '4f1c2b7e-0000-4000-8000-00000000a11c', deviceGeneration: 1 };

describe('DeviceTrust', () => {
  it('when a token was issued for an account, then it verifies for that account and device generation, and for no other account or generation', () => {
    const trust = trustAt([A], 1_700_000_000_000);
    const token = trust.issue(alice);

    expect(trust.verify(token, alice)).toEqual({ id: token.split('.')[1] });
    expect(trust.verify(token, { ...alice, id: '4f1c2b7e-0000-4000-8000-0000000000b0' })).toBeUndefined();
    expect(trust.verify(token, { ...alice, deviceGeneration: 2 })).toBeUndefined();
  });

  it('when a token names nobody: neither the user id nor any digest of a username appears in it', () => {
    const token = trustAt([A], 1_700_000_000_000).issue(alice);
    const unkeyedTags = ['alice', 'Alice'].flatMap((name) => {
      const hash = createHash('sha256').update(`device-user:${name}`).digest('base64url');
      return [hash, hash.slice(0, 22)];
    });

    expect(token).not.toContain(alice.id);
    for (const tag of unkeyedTags) expect(token).not.toContain(tag);
    expect(token.split('.')).toHaveLength(4);
  });

  it('when a device that already holds a token signs in again, then its refreshed token keeps the device id', () => {
    const trust = trustAt([A], 1_700_000_000_000);
    const first = trust.issue(alice);
    const { id } = trust.verify(first, alice)!;

    const refreshed = trustAt([A], 1_700_000_000_000 + DAY).issue(alice, id);

    expect(trustAt([A], 1_700_000_000_000 + DAY).verify(refreshed, alice)).toEqual({ id });
  });

  it('when the token is tampered with, truncated or signed with an unknown secret, then it gives no trust', () => {
    const trust = trustAt([A], 1_700_000_000_000);
    const token = trust.issue(alice);
    const parts = token.split('.');
    const foreign = trustAt([B], 1_700_000_000_000).issue(alice);

    expect(trust.verify([...parts.slice(0, 3), 'A'.repeat(43)].join('.'), alice)).toBeUndefined();
    expect(trust.verify([parts[0], 'other-device-id', parts[2], parts[3]].join('.'), alice)).toBeUndefined();
    expect(trust.verify(parts.slice(0, 3).join('.'), alice)).toBeUndefined();
    expect(trust.verify(foreign, alice)).toBeUndefined();
    expect(trust.verify(undefined, alice)).toBeUndefined();
    expect(trust.verify('x'.repeat(500), alice)).toBeUndefined();
  });

  it('when the secrets rotate (B,A), then tokens signed with A still verify; once A is dropped they do not', () => {
    const issuedAt = 1_700_000_000_000;
    const token = trustAt([A], issuedAt).issue(alice);

    expect(trustAt([B, A], issuedAt + DAY).verify(token, alice)).toBeDefined();
    expect(trustAt([B], issuedAt + DAY).verify(token, alice)).toBeUndefined();
  });

  it('when the token is older than DEVICE_COOKIE_MAX_AGE, then it gives no trust', () => {
    const issuedAt = 1_700_000_000_000;
    const token = trustAt([A], issuedAt).issue(alice);

    expect(trustAt([A], issuedAt + 89 * DAY).verify(token, alice)).toBeDefined();
    expect(trustAt([A], issuedAt + 91 * DAY).verify(token, alice)).toBeUndefined();
  });
});
