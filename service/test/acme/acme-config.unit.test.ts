import { describe, expect, it } from '@jest/globals';
import { LETS_ENCRYPT, loadAcmeConfig } from '../../src/acme/acme-config.ts';
import { renewalDue } from '../../src/acme/certificate-files.ts';
import { configIssues } from '../../src/config/config.ts';

const base = {
  PUBLIC_ORIGIN: 'https://auth.example.com',
  ACME_STATE_DIR: '/var/lib/authstack/acme',
  ACME_WEBROOT: '/var/www/acme',
  TLS_CERT: '/etc/nginx/tls/fullchain.pem',
  TLS_KEY: '/etc/nginx/tls/privkey.pem',
};

const issues = (env: Record<string, string>) => configIssues(env, loadAcmeConfig);

describe('the renewer configuration', () => {
  it('when only the public origin and paths are set, then it certifies the origin host at Let’s Encrypt production, checking twice a day', () => {
    const config = loadAcmeConfig(base);
    expect(config).toMatchObject({
      domain: 'auth.example.com',
      directory: LETS_ENCRYPT,
      email: undefined,
      checkIntervalMs: 12 * 3_600_000,
      retryAfterMs: 60_000,
      metrics: { host: '127.0.0.1', port: 9465 },
    });
  });

  it('when the name cannot be certified over HTTP-01 or a value is malformed, then each problem is named', () => {
    expect(issues({ ...base, PUBLIC_ORIGIN: 'https://localhost' })).toEqual([
      expect.stringMatching(/^PUBLIC_ORIGIN: ACME needs a DNS name, got localhost/),
    ]);
    expect(issues({ ...base, PUBLIC_ORIGIN: 'https://10.0.0.5' })).toEqual([expect.stringMatching(/DNS name/)]);
    expect(
      issues({ ...base, ACME_EMAIL: 'not-an-address', ACME_DIRECTORY: 'http://ca.test/dir', TLS_CERT: '' }),
    ).toEqual([
      expect.stringMatching(/^ACME_EMAIL: /),
      expect.stringMatching(/^ACME_DIRECTORY: /),
      expect.stringMatching(/^TLS_CERT: /),
    ]);
  });
});

describe('when a certificate is due', () => {
  const day = 86_400_000;
  const cert = (lifetimeDays: number) => ({
    serial: '01',
    issuer: 'CA',
    placeholder: false,
    notBeforeMs: 0,
    notAfterMs: lifetimeDays * day,
  });

  it('when a third of its lifetime is left, whatever that lifetime (90 days or 6 days), then it is due, and not a moment before', () => {
    expect(renewalDue(cert(90), 60 * day - 1)).toBe(false);
    expect(renewalDue(cert(90), 60 * day)).toBe(true);
    expect(renewalDue(cert(6), 4 * day - 1)).toBe(false);
    expect(renewalDue(cert(6), 4 * day)).toBe(true);
  });
});
