import { describe, expect, it } from '@jest/globals';
import { CONFIG_KEYS, SECRET_KEYS } from '../../service/src/config/config.ts';
import { assertValidServiceConfig, serviceEnvFrom } from './service-env.ts';

describe('serviceEnvFrom', () => {
  it('when .env mixes settings, secrets, stack-owned and stack-only keys, then each goes its own way', () => {
    const split = serviceEnvFrom(
      {
        SIGNUP_ENABLED: 'true',
        ARGON2_TIME_COST: '3',
        SESSION_SECRETS: 's'.repeat(40),
        REDIS_PASSWORD: 'pw',
        PORT: '4000',
        HTTPS_PORT: '8443',
        TLS_CERT: '/x',
        LOG_LEVEL: '',
      },
      ['PORT'],
    );

    expect(split.settings).toEqual({ SIGNUP_ENABLED: 'true', ARGON2_TIME_COST: '3' });
    expect(split.secrets).toEqual({ SESSION_SECRETS: 's'.repeat(40), REDIS_PASSWORD: 'pw' });
    expect(split.overridden).toEqual(['PORT']);
  });

  it('when every schema key is set, then every one reaches the service (settings or secrets), none is lost', () => {
    const all = Object.fromEntries(CONFIG_KEYS.map((key) => [key, 'v']));

    const split = serviceEnvFrom(all, []);

    expect(Object.keys(split.settings).length + Object.keys(split.secrets).length).toBe(CONFIG_KEYS.length);
    expect(Object.keys(split.secrets).sort()).toEqual([...SECRET_KEYS].sort());
  });
});

describe('assertValidServiceConfig', () => {
  it('when a value is invalid, then it fails with exit code 78 naming the key and the env file', () => {
    expect(() => assertValidServiceConfig({ SESSION_SECRETS: 'short', ARGON2_TIME_COST: 'x' }, '/p/.env')).toThrow(
      expect.objectContaining({
        exitCode: 78,
        message: expect.stringMatching(/\/p\/\.env[\s\S]*SESSION_SECRETS[\s\S]*ARGON2_TIME_COST/),
      }),
    );
  });
});
