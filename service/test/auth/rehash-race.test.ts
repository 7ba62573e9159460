import argon2 from 'argon2';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Authenticator } from '../../src/auth/authenticator.ts';
import { PasswordHasher } from '../../src/auth/password-hasher.ts';
import { GOOD_PASSWORD, buildTestApp, uniqueUsername, type TestApp } from '../helpers/test-app.ts';

/** A hasher whose hash() waits until the test lets it finish: the re-hash window, held open. */
class GatedHasher extends PasswordHasher {
  private gate: Promise<void> = Promise.resolve();
  private open: () => void = () => undefined;
  reachedHash: Promise<void> = Promise.resolve();
  private reached: () => void = () => undefined;

  holdNextHash(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
    this.reachedHash = new Promise((resolve) => (this.reached = resolve));
  }

  release(): void {
    this.open();
  }

  override async hash(password: string): Promise<string> {
    const result = await super.hash(password);
    this.reached();
    await this.gate;
    return result;
  }
}

/**
 * Issue #10.5: a login that upgrades an old-parameter hash must never undo a password change
 * that lands between its verify and its write (compare-and-set against the verified hash).
 */
describe('re-hash after login vs password change', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp();
  });
  afterAll(() => t.close());

  /** A user whose stored hash uses weaker (older) parameters, so the next login re-hashes it. */
  async function userWithOldHash() {
    const username = uniqueUsername('rehash');
    const weak = await argon2.hash(GOOD_PASSWORD, {
      type: argon2.argon2id,
      memoryCost: 8192,
      timeCost: 1,
      parallelism: 1,
    });
    const user = await t.domain.users.create(username, weak);
    const hasher = new GatedHasher({ params: t.config.argon2, limits: t.config.hashing, metrics: t.metrics });
    const authenticator = new Authenticator({
      users: t.domain.users,
      hasher,
      throttle: t.domain.throttle,
      devices: t.domain.devices,
      metrics: t.metrics,
      logger: t.logger,
    });
    return { user, username, hasher, authenticator };
  }

  it('when the password changes while the login re-hashes, then the new password works, the old one fails, and the credential version is the change', async () => {
    const { user, username, hasher, authenticator } = await userWithOldHash();
    hasher.holdNextHash();
    const loggingIn = authenticator.authenticate(username, GOOD_PASSWORD, { ip: '198.51.100.5' });
    await hasher.reachedHash;

    const changed = await t.domain.accounts.changePassword(user, 'the changed passphrase');
    hasher.release();
    await loggingIn;
    const stored = (await t.domain.users.findById(user.id))!;

    expect(await argon2.verify(stored.passwordHash, 'the changed passphrase')).toBe(true);
    expect(await argon2.verify(stored.passwordHash, GOOD_PASSWORD)).toBe(false);
    expect(stored.credentialVersion).toBe(changed.user.credentialVersion);
    expect(t.logs.events('user.rehash_skipped').map((e) => e.userId)).toContain(user.id);
  });

  it('when the re-hash lands first and the password changes after, then the change wins and the re-hash used the current parameters', async () => {
    const { user, username, authenticator } = await userWithOldHash();

    await authenticator.authenticate(username, GOOD_PASSWORD, { ip: '198.51.100.6' });
    const rehashed = (await t.domain.users.findById(user.id))!;
    await t.domain.accounts.changePassword(user, 'the changed passphrase');
    const stored = (await t.domain.users.findById(user.id))!;

    expect(t.domain.hasher.needsRehash(rehashed.passwordHash)).toBe(false);
    expect(await argon2.verify(rehashed.passwordHash, GOOD_PASSWORD)).toBe(true);
    expect(await argon2.verify(stored.passwordHash, 'the changed passphrase')).toBe(true);
    expect(await argon2.verify(stored.passwordHash, GOOD_PASSWORD)).toBe(false);
  });
});
