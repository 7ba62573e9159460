import { describe, expect, it } from '@jest/globals';
import { DeviceTrust } from '../../src/auth/device-trust.ts';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const DAY = 86_400_000;
const clockAt = (now: number) => ({ now: () => now });

describe('DeviceTrust', () => {
  it('when a token was issued for a user, then it verifies for that user (any case or NFKC form of the name) and for nobody else', () => {
    const trust = new DeviceTrust([A], 90 * DAY, clockAt(1_700_000_000_000));
    const token = trust.issue('Alice');

    expect(trust.verify(token, 'alice')).toEqual({ id: token.split('.')[2] });
    expect(trust.verify(token, 'ＡＬＩＣＥ')).toBeDefined();
    expect(trust.verify(token, 'bob')).toBeUndefined();
  });

  it('when the token is tampered with, truncated or signed with an unknown secret, then it gives no trust', () => {
    const trust = new DeviceTrust([A], 90 * DAY, clockAt(1_700_000_000_000));
    const token = trust.issue('alice');
    const parts = token.split('.');
    const foreign = new DeviceTrust([B], 90 * DAY, clockAt(1_700_000_000_000)).issue('alice');

    expect(trust.verify([...parts.slice(0, 4), 'A'.repeat(43)].join('.'), 'alice')).toBeUndefined();
    expect(trust.verify([parts[0], parts[1], 'other-device-id', parts[3], parts[4]].join('.'), 'alice')).toBeUndefined();
    expect(trust.verify(parts.slice(0, 4).join('.'), 'alice')).toBeUndefined();
    expect(trust.verify(foreign, 'alice')).toBeUndefined();
    expect(trust.verify(undefined, 'alice')).toBeUndefined();
    expect(trust.verify('x'.repeat(500), 'alice')).toBeUndefined();
  });

  it('when the secrets rotate (B,A), then tokens signed with A still verify; once A is dropped they do not', () => {
    const issuedAt = 1_700_000_000_000;
    const token = new DeviceTrust([A], 90 * DAY, clockAt(issuedAt)).issue('alice');

    expect(new DeviceTrust([B, A], 90 * DAY, clockAt(issuedAt + DAY)).verify(token, 'alice')).toBeDefined();
    expect(new DeviceTrust([B], 90 * DAY, clockAt(issuedAt + DAY)).verify(token, 'alice')).toBeUndefined();
  });

  it('when the token is older than DEVICE_COOKIE_MAX_AGE, then it gives no trust', () => {
    const issuedAt = 1_700_000_000_000;
    const token = new DeviceTrust([A], 90 * DAY, clockAt(issuedAt)).issue('alice');

    expect(new DeviceTrust([A], 90 * DAY, clockAt(issuedAt + 89 * DAY)).verify(token, 'alice')).toBeDefined();
    expect(new DeviceTrust([A], 90 * DAY, clockAt(issuedAt + 91 * DAY)).verify(token, 'alice')).toBeUndefined();
  });
});
