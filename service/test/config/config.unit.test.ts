import { describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suiteScratchDir } from '../../../testkit/scratch-dir.ts';
import { configIssues, loadConfig } from '../../src/config/config.ts';
import { parseDurationMs } from '../../src/config/setting-types.ts';

const SECRET = 'x'.repeat(32);
const base = { SESSION_SECRETS: SECRET };

const problems = configIssues;

describe('config', () => {
  it('when only SESSION_SECRETS is set, then every other key takes its documented default', () => {
    const config = loadConfig(base);

    expect(config).toMatchObject({
      port: 3000,
      host: '0.0.0.0',
      trustProxy: ['loopback'],
      publicOrigin: 'https://localhost',
      logLevel: 'info',
      signupEnabled: false,
      redis: { url: 'redis://127.0.0.1:6379', keyPrefix: 'authstack:' },
      session: {
        cookieSecure: true,
        cookieName: '__Host-sid',
        idleTimeoutMs: 30 * 60_000,
        absoluteTimeoutMs: 12 * 3_600_000,
        secrets: [SECRET],
        maxSessionsPerUser: 20,
        readPath: true,
      },
      device: { cookieName: '__Host-device', maxAgeMs: 90 * 86_400_000 },
      argon2: { memoryCost: 19456, timeCost: 2, parallelism: 1 },
      throttle: {
        maxConsecutiveFailures: 10,
        maxFailuresPerIpPerHour: 100,
        maxFailuresPerAccountPerHour: 100,
        maxDeviceFailuresPerAccountPerHour: 100,
      },
    });
  });

  it('when SESSION_SECRETS is missing, then start-up fails naming SESSION_SECRETS', () => {
    expect(problems({})).toEqual([expect.stringMatching(/^SESSION_SECRETS: /)]);
  });

  it('when a session secret is shorter than 32 characters, then it fails naming the key and the secret position', () => {
    expect(problems({ SESSION_SECRETS: `${SECRET},short` })).toEqual([
      expect.stringMatching(/^SESSION_SECRETS: secret #2 is 5 characters/),
    ]);
  });

  it('when SESSION_SECRETS lists several, then they are kept newest first, trimmed, and duplicates are refused', () => {
    const other = 'y'.repeat(40);
    expect(loadConfig({ SESSION_SECRETS: ` ${other} , ${SECRET} ` }).session.secrets).toEqual([other, SECRET]);
    expect(problems({ SESSION_SECRETS: `${SECRET},${SECRET}` })).toEqual([
      expect.stringMatching(/SESSION_SECRETS: lists the same secret twice/),
    ]);
  });

  it('when TRUST_PROXY is true, then it is refused (clients could spoof X-Forwarded-For)', () => {
    expect(problems({ ...base, TRUST_PROXY: 'true' })).toEqual([expect.stringMatching(/^TRUST_PROXY: .*never true/)]);
  });

  it('when TRUST_PROXY is a hop count or subnets, then it is kept as such', () => {
    expect(loadConfig({ ...base, TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadConfig({ ...base, TRUST_PROXY: '10.0.0.0/8, 172.16.0.0/12' }).trustProxy).toEqual([
      '10.0.0.0/8',
      '172.16.0.0/12',
    ]);
  });

  it.each([
    ['PORT', 'http'],
    ['PORT', '70000'],
    ['REDIS_URL', 'localhost:6379'],
    ['PUBLIC_ORIGIN', 'https://localhost/path'],
    ['PUBLIC_ORIGIN', 'localhost'],
    ['COOKIE_SECURE', 'maybe'],
    ['SESSION_IDLE_TIMEOUT', 'soon'],
    ['LOG_LEVEL', 'loud'],
    ['ARGON2_MEMORY_KIB', '1024'],
    ['ARGON2_TIME_COST', '1'],
    ['HASH_CONCURRENCY', '0'],
    ['REDIS_KEY_PREFIX', 'has space'],
  ])('when %s=%s, then start-up fails naming %s', (key, value) => {
    const issues = problems({ ...base, [key]: value });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(new RegExp(`^${key}: `));
  });

  it('when the absolute timeout is shorter than the idle one, then it fails naming SESSION_ABSOLUTE_TIMEOUT', () => {
    expect(problems({ ...base, SESSION_IDLE_TIMEOUT: '2h', SESSION_ABSOLUTE_TIMEOUT: '1h' })).toEqual([
      expect.stringMatching(/^SESSION_ABSOLUTE_TIMEOUT: /),
    ]);
  });

  it('when LOG_FORMAT=pretty, then it is allowed in development and refused with NODE_ENV=production', () => {
    expect(loadConfig({ ...base, LOG_FORMAT: 'pretty' }).logFormat).toBe('pretty');
    expect(problems({ ...base, LOG_FORMAT: 'pretty', NODE_ENV: 'production' })).toEqual([
      expect.stringMatching(/^LOG_FORMAT: pretty is for local development/),
    ]);
    expect(loadConfig({ ...base, NODE_ENV: 'production' }).logFormat).toBe('json');
  });

  it('when SHUTDOWN_DRAIN_DELAY is 0 or a duration, then it is taken; negative or words fail', () => {
    expect(loadConfig(base).shutdownDrainDelayMs).toBe(0);
    expect(loadConfig({ ...base, SHUTDOWN_DRAIN_DELAY: '5s' }).shutdownDrainDelayMs).toBe(5000);
    expect(problems({ ...base, SHUTDOWN_DRAIN_DELAY: '-1' })).toEqual([
      expect.stringMatching(/^SHUTDOWN_DRAIN_DELAY: /),
    ]);
    expect(problems({ ...base, SESSION_IDLE_TIMEOUT: '0' })).toEqual([
      expect.stringMatching(/^SESSION_IDLE_TIMEOUT: /),
    ]);
  });

  it('when ADMIN_USERNAME is set without a password, then it fails naming ADMIN_PASSWORD', () => {
    expect(problems({ ...base, ADMIN_USERNAME: 'admin' })).toEqual([expect.stringMatching(/^ADMIN_PASSWORD: /)]);
  });

  it('when REDIS_SENTINELS is combined with a rediss:// REDIS_URL, then start-up fails naming REDIS_SENTINELS (TLS would silently stop applying); plain redis:// with Sentinel is fine', () => {
    const sentinels = { ...base, REDIS_SENTINELS: 'sentinel-1:26379,sentinel-2:26379' };

    expect(problems({ ...sentinels, REDIS_URL: 'rediss://redis.example:6380' })).toEqual([
      expect.stringMatching(/^REDIS_SENTINELS: .*rediss:\/\/.*not supported/),
    ]);
    expect(loadConfig(sentinels).redis.sentinel?.nodes).toHaveLength(2);
  });

  it('when COOKIE_SECURE=false (local plain-HTTP development), then the cookie is named sid', () => {
    expect(loadConfig({ ...base, COOKIE_SECURE: 'false' }).session.cookieName).toBe('sid');
  });

  describe('NAME_FILE secrets', () => {
    const dir = suiteScratchDir('authstack-config-');
    const file = (name: string, content: string) => {
      const path = join(dir, name);
      writeFileSync(path, content);
      return path;
    };

    it('when SESSION_SECRETS_FILE, REDIS_PASSWORD_FILE, METRICS_TOKEN_FILE and ADMIN_PASSWORD_FILE are given, then their contents are used without the trailing newline', () => {
      const config = loadConfig({
        SESSION_SECRETS_FILE: file('secrets', `${'n'.repeat(40)},${SECRET}\n`),
        REDIS_PASSWORD_FILE: file('redis', 'redis-pass\n'),
        METRICS_TOKEN_FILE: file('metrics', 'metrics-token'),
        ADMIN_USERNAME: 'admin',
        ADMIN_PASSWORD_FILE: file('admin', 'admin password here\n'),
      });

      expect(config.session.secrets).toEqual(['n'.repeat(40), SECRET]);
      expect(config.redis.password).toBe('redis-pass');
      expect(config.metricsToken).toBe('metrics-token');
      expect(config.admin).toEqual({ username: 'admin', password: 'admin password here' });
    });

    it('when a _FILE cannot be read, then it fails naming the _FILE key', () => {
      expect(problems({ SESSION_SECRETS_FILE: join(dir, 'missing') })).toEqual([
        expect.stringMatching(/^SESSION_SECRETS_FILE: cannot read .*ENOENT/),
        expect.stringMatching(/^SESSION_SECRETS: /),
      ]);
    });

    it('when both NAME and NAME_FILE are set, then it fails rather than guessing', () => {
      expect(problems({ ...base, METRICS_TOKEN: 'a', METRICS_TOKEN_FILE: file('m2', 'b') })).toEqual([
        expect.stringMatching(/^METRICS_TOKEN: set either/),
      ]);
    });
  });
});

describe('parseDurationMs', () => {
  it.each([
    ['900', 900_000],
    ['90s', 90_000],
    ['30m', 1_800_000],
    ['12h', 43_200_000],
    ['1d', 86_400_000],
    ['250ms', 250],
    ['1.5h', 5_400_000],
  ])('when given %s, then %d ms', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it.each(['', 'abc', '-5m', '0', '10 minutes', '5w'])('when given %s, then undefined', (text) => {
    expect(parseDurationMs(text)).toBeUndefined();
  });
});
