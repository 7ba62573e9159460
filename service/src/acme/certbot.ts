import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { AcmeConfig } from './acme-config.ts';
import type { CertificatePair } from './certificate-files.ts';

/** certbot's name for our one certificate lineage (its directory under live/). */
const LINEAGE = 'authstack';
/** An order that has not finished in this time is abandoned (the CA or the challenge hangs). */
const CERTBOT_TIMEOUT_MS = 5 * 60_000;

export class CertbotError extends Error {
  readonly detail: string;
  constructor(message: string, detail: string) {
    super(message);
    this.name = 'CertbotError';
    this.detail = detail;
  }
}

/**
 * The ACME client is certbot (Debian's, maintained by the EFF, Let's Encrypt's reference client):
 * account key, orders, HTTP-01 through the webroot, and its state directory with the live
 * lineage. This class only builds its command line and reads where it put the files; the
 * decision when to renew is the renewer's (a third of the lifetime left).
 */
export class Certbot {
  private readonly config: AcmeConfig;

  constructor(deps: { config: AcmeConfig }) {
    this.config = deps.config;
  }

  /** The lineage's current files, once certbot has issued one. */
  lineage(): CertificatePair | undefined {
    const live = join(this.config.stateDir, 'config', 'live', LINEAGE);
    const pair = { certFile: join(live, 'fullchain.pem'), keyFile: join(live, 'privkey.pem') };
    return existsSync(pair.certFile) && existsSync(pair.keyFile) ? pair : undefined;
  }

  /** Orders a certificate for the domain (a new one, or a renewal of the lineage). */
  async obtain(signal?: AbortSignal): Promise<CertificatePair> {
    const { config } = this;
    for (const dir of ['config', 'work', 'logs'])
      mkdirSync(join(config.stateDir, dir), { recursive: true, mode: 0o700 });
    // Readable by nginx's unprivileged workers, which serve the challenge files.
    mkdirSync(join(config.webroot, '.well-known', 'acme-challenge'), { recursive: true, mode: 0o755 });
    const args = [
      'certonly',
      '--non-interactive',
      '--agree-tos',
      ...(config.email ? ['--email', config.email] : ['--register-unsafely-without-email']),
      '--server',
      config.directory,
      '--config-dir',
      join(config.stateDir, 'config'),
      '--work-dir',
      join(config.stateDir, 'work'),
      '--logs-dir',
      join(config.stateDir, 'logs'),
      '--cert-name',
      LINEAGE,
      '--webroot',
      '--webroot-path',
      config.webroot,
      '--domain',
      config.domain,
      '--key-type',
      'ecdsa',
      // The renewer decided that it is time: certbot's own 30-day rule must not say no.
      '--force-renewal',
      // Keeps the lineage (and its renewal settings) instead of asking when the domain changes.
      '--expand',
    ];
    // certbot (Python requests) trusts this bundle instead of the system roots for the ACME server.
    const env = config.caBundle ? { ...process.env, REQUESTS_CA_BUNDLE: config.caBundle } : process.env;
    await new Promise<void>((resolve, reject) => {
      execFile('certbot', args, { env, timeout: CERTBOT_TIMEOUT_MS, signal }, (error, stdout, stderr) => {
        if (!error) return resolve();
        // certbot names the cause (connection refused, the challenge's answer, a rate limit) on
        // stdout or stderr, depending on the failure.
        const detail = `${stdout}\n${stderr}`
          .split('\n')
          .map((line) => line.trim())
          .filter((line) => line && !/^(Saving debug log|Ask for help|See the logfile)/.test(line))
          .slice(-6)
          .join('\n');
        reject(new CertbotError(`certbot failed: ${detail.split('\n').at(-1) || error.message}`, detail));
      });
    });
    const pair = this.lineage();
    if (!pair) throw new CertbotError('certbot succeeded but wrote no certificate', '');
    return pair;
  }
}
