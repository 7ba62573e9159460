import { describe, expect, it } from '@jest/globals';
import { BoundedSemaphore, QueueFullError } from '../../src/auth/bounded-semaphore.ts';
import { PASSWORD_MAX_LENGTH, passwordProblem } from '../../src/auth/password-policy.ts';
import { normalizeUsername, usernameProblem } from '../../src/users/username.ts';
import { clientBucket } from '../../src/auth/login-throttle.ts';

describe('BoundedSemaphore', () => {
  it('when more tasks arrive than slots plus queue, then the excess is refused at once and the rest all run, never more than the limit at a time', async () => {
    const semaphore = new BoundedSemaphore({ concurrency: 2, queueLimit: 3 });
    let running = 0;
    let peak = 0;
    const releases: Array<() => void> = [];
    const task = () =>
      new Promise<void>((resolve) => {
        running += 1;
        peak = Math.max(peak, running);
        releases.push(() => {
          running -= 1;
          resolve();
        });
      });

    const accepted = Array.from({ length: 5 }, () => semaphore.run(task));
    const refused = semaphore.run(task);

    await expect(refused).rejects.toBeInstanceOf(QueueFullError);
    expect([semaphore.active, semaphore.queued]).toEqual([2, 3]);
    while (releases.length > 0 || running > 0) {
      releases.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(accepted);
    expect(peak).toBe(2);
    expect([semaphore.active, semaphore.queued]).toEqual([0, 0]);
  });

  it('when a task throws, then its slot is released', async () => {
    const semaphore = new BoundedSemaphore({ concurrency: 1, queueLimit: 0 });

    await expect(semaphore.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');

    await expect(semaphore.run(async () => 'ok')).resolves.toBe('ok');
  });
});

describe('password policy (NIST SP 800-63B)', () => {
  it('when shorter than 12 characters, then weak_password', () => {
    expect(passwordProblem('elevenchars')?.code).toBe('weak_password');
  });

  it('when 12 to 1024 characters with no composition at all, then accepted', () => {
    expect(passwordProblem('all lowercase words')).toBeUndefined();
    expect(passwordProblem('q'.repeat(5) + ' zebra crossing'.repeat(60).slice(0, 1019))).toBeUndefined();
  });

  it('when longer than 1024 characters, then invalid_request (never silently truncated)', () => {
    expect(passwordProblem('a'.repeat(PASSWORD_MAX_LENGTH + 1))?.code).toBe('invalid_request');
  });

  it('when emoji are used, then length counts code points', () => {
    expect(passwordProblem('😀'.repeat(12))).toBeUndefined();
    expect(passwordProblem('😀'.repeat(11))?.code).toBe('weak_password');
  });

  it('when the password is on the common-password list, in any case, then weak_password', () => {
    for (const common of ['qwerty123456', 'QWERTY123456', '1q2w3e4r5t6y'])
      expect(passwordProblem(common)?.code).toBe('weak_password');
  });

  it('when the password is the username with a short suffix, then weak_password', () => {
    expect(passwordProblem('administrator1', { username: 'administrator' })?.code).toBe('weak_password');
    expect(passwordProblem('administrator and a long phrase', { username: 'administrator' })).toBeUndefined();
  });
});

describe('usernames', () => {
  it('when names differ by case or by compatibility form, then they normalise to the same key', () => {
    expect(normalizeUsername('Alice')).toBe(normalizeUsername('ALICE'));
    expect(normalizeUsername('Ａｌｉｃｅ')).toBe('alice');
  });

  it('when a name has spaces, control characters or is too long, then it is refused', () => {
    expect(usernameProblem('has space')).toBeDefined();
    expect(usernameProblem('nul\u0000')).toBeDefined();
    expect(usernameProblem('x'.repeat(65))).toBeDefined();
    expect(usernameProblem('')).toBeDefined();
    expect(usernameProblem('zoë.o-brien_1@example')).toBeUndefined();
  });
});

describe('clientBucket (throttle key of a client address)', () => {
  it('when the client is IPv4 (plain or IPv4-mapped), then the address itself', () => {
    expect(clientBucket('203.0.113.7')).toBe('203.0.113.7');
    expect(clientBucket('::ffff:203.0.113.7')).toBe('203.0.113.7');
  });

  it('when the client is IPv6, then its /64, however the address is written', () => {
    expect(clientBucket('2001:db8:1:2:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:1:2::/64');
    expect(clientBucket('2001:0DB8:0001:0002::1')).toBe('2001:db8:1:2::/64');
    expect(clientBucket('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientBucket('::1')).toBe('0:0:0:0::/64');
    expect(clientBucket('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(clientBucket('64:ff9b::192.0.2.33')).toBe('64:ff9b:0:0::/64');
  });

  it('when two addresses share a /64, then they share a bucket; different /64s do not', () => {
    expect(clientBucket('2001:db8:1:2::a')).toBe(clientBucket('2001:db8:1:2:ffff::b'));
    expect(clientBucket('2001:db8:1:2::a')).not.toBe(clientBucket('2001:db8:1:3::a'));
  });
});
