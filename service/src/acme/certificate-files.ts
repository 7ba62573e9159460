import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

/** The subject of the stand-in certificate nginx starts on before the first real one exists. */
export const PLACEHOLDER_ORGANIZATION = 'authstack placeholder';

export interface CertificateInfo {
  serial: string;
  notBeforeMs: number;
  notAfterMs: number;
  issuer: string;
  placeholder: boolean;
}

export interface CertificatePair {
  certFile: string;
  keyFile: string;
}

/** The first certificate of a PEM file (the leaf of a full chain), or undefined when absent or unreadable. */
export function readCertificate(file: string): CertificateInfo | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const cert = new X509Certificate(readFileSync(file));
    return {
      serial: cert.serialNumber,
      notBeforeMs: Date.parse(cert.validFrom),
      notAfterMs: Date.parse(cert.validTo),
      issuer: cert.issuer.replaceAll('\n', ', '),
      placeholder: cert.subject.includes(`O=${PLACEHOLDER_ORGANIZATION}`),
    };
  } catch {
    return undefined;
  }
}

/**
 * Due when a third of the lifetime is left (Let's Encrypt's advice, and certbot's 30 days of a
 * 90-day certificate), so a short-lived certificate is renewed as early in its life as a long one.
 */
export function renewalDue(cert: CertificateInfo, nowMs: number): boolean {
  return nowMs >= cert.notAfterMs - (cert.notAfterMs - cert.notBeforeMs) / 3;
}

/**
 * Copies a certificate and key to where nginx reads them, each through a temporary file renamed
 * over the old one, so nginx never reads half a file or a key that does not match. The key is
 * 0600 in a 0700 directory from its first byte.
 */
export function installCertificate(from: CertificatePair, to: CertificatePair): void {
  for (const [source, target, mode] of [
    [from.keyFile, to.keyFile, 0o600],
    [from.certFile, to.certFile, 0o644],
  ] as const) {
    mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
    const tmp = join(dirname(target), `.${process.pid}.tmp`);
    writeFileSync(tmp, readFileSync(source), { mode });
    chmodSync(tmp, mode);
    renameSync(tmp, target);
  }
}

/**
 * A self-signed certificate for the name, valid two days, so nginx can start (and answer the
 * HTTP-01 challenge on port 80) before the CA has issued anything. openssl writes it: Node has
 * no certificate generator, and openssl is on every machine and in every image that has certbot.
 */
export async function writePlaceholder(domain: string, to: CertificatePair): Promise<void> {
  const work = `${to.certFile}.placeholder`;
  mkdirSync(dirname(to.certFile), { recursive: true, mode: 0o700 });
  mkdirSync(dirname(to.keyFile), { recursive: true, mode: 0o700 });
  await promisify(execFile)('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '2',
    '-subj',
    `/O=${PLACEHOLDER_ORGANIZATION}/CN=${domain}`,
    '-addext',
    `subjectAltName=DNS:${domain}`,
    '-keyout',
    `${work}.key`,
    '-out',
    `${work}.crt`,
  ]);
  installCertificate({ certFile: `${work}.crt`, keyFile: `${work}.key` }, to);
  for (const file of [`${work}.crt`, `${work}.key`]) rmSync(file, { force: true });
}
