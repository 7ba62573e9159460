import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';

/** Renew a leaf this close to its end. */
const RENEW_WITHIN_MS = 30 * 86_400_000;
/** The names of the local leaf certificate. */
export const LOCAL_NAMES = ['localhost', '127.0.0.1', '::1'];

export interface CertPaths {
  /** The local CA's certificate: what clients (curl --cacert, the smoke tests) trust. */
  caCrt: string;
  leafCrt: string;
  leafKey: string;
}

export const certPaths = (dir: string): CertPaths => ({
  caCrt: join(dir, 'ca.crt'),
  leafCrt: join(dir, 'localhost.crt'),
  leafKey: join(dir, 'localhost.key'),
});

const log = (message: string) => process.stderr.write(`certs: ${message}\n`);

/**
 * Local TLS certificates for https://localhost, made by mkcert (Debian's package): its CA
 * (rootCA.pem, rootCA-key.pem) kept in `dir` as its CAROOT, ca.crt a copy of that CA for clients,
 * and a leaf for localhost, 127.0.0.1 and ::1. Idempotent: keeps a valid leaf this CA issued,
 * renews one that ends within 30 days, and never overwrites a certificate it did not issue (your
 * own, or a real one). To make browsers trust it: `CAROOT=<dir> mkcert -install`.
 */
export function ensureLocalCertificates(dir: string, options: { quiet?: boolean } = {}): CertPaths {
  const paths = certPaths(dir);
  mkdirSync(dir, { recursive: true });
  const ca = join(dir, 'rootCA.pem');
  if (existsSync(paths.leafCrt)) {
    const leaf = new X509Certificate(readFileSync(paths.leafCrt));
    const ours = existsSync(ca) && leaf.checkIssued(new X509Certificate(readFileSync(ca)));
    if (!ours) {
      log(`keeping ${paths.leafCrt}: it was not issued by the local CA in ${dir}, so it is yours`);
      return paths;
    }
    if (Date.parse(leaf.validTo) - Date.now() > RENEW_WITHIN_MS) {
      if (!options.quiet) log(`keeping valid ${paths.leafCrt} (until ${leaf.validTo})`);
      return paths;
    }
    log(`renewing ${paths.leafCrt}: it ends within 30 days`);
  }
  issueLeaf(dir, { cert: paths.leafCrt, key: paths.leafKey }, LOCAL_NAMES);
  copyFileSync(ca, paths.caCrt);
  log(`issued ${paths.leafCrt} for ${LOCAL_NAMES.join(', ')} (local CA ${paths.caCrt})`);
  if (!options.quiet) log(`browsers trust it after: CAROOT=${dir} mkcert -install   (curl: --cacert ${paths.caCrt})`);
  return paths;
}

/**
 * A leaf certificate for `names` from the local CA kept in `caDir` (mkcert's CAROOT; mkcert makes
 * the CA on first use), its key 0600: the localhost leaf, the swarm cluster's registry, a renewal.
 */
export function issueLeaf(caDir: string, files: { cert: string; key: string }, names: readonly string[]): void {
  const made = spawnSync('mkcert', ['-cert-file', files.cert, '-key-file', files.key, ...names], {
    env: { ...process.env, CAROOT: caDir },
    encoding: 'utf8',
  });
  if (made.error || made.status !== 0) {
    const reason = made.error ? 'mkcert is not installed (sudo apt-get install -y mkcert)' : made.stderr.trim();
    throw new Error(`certs: mkcert failed: ${reason}`);
  }
  chmodSync(files.key, 0o600);
}

/**
 * The certificate an edge serves for `servername`, on a fresh TLS handshake. Not verified: the
 * callers want to know what is served (serial, issuer), whether clients trust it is another test.
 */
export function servedCertificate(address: string, port: number, servername: string): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address, port, servername, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate());
      socket.end();
    });
    socket.once('error', reject);
  });
}
