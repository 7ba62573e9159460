import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { say } from './lib/log.ts';
import { capture, run, which } from './lib/run.ts';
import { ensureTools } from './lib/tools.ts';

const LEAF_DAYS = 365; // browsers accept at most 397
const CA_DAYS = 3650;
const RENEW_WITHIN_SECONDS = 30 * 24 * 3600;
const log = (message: string) => say('certs', message);

export interface CertPaths {
  caCrt: string;
  caKey: string;
  leafCrt: string;
  leafKey: string;
}

export const certPaths = (dir: string): CertPaths => ({
  caCrt: join(dir, 'ca.crt'),
  caKey: join(dir, 'ca.key'),
  leafCrt: join(dir, 'localhost.crt'),
  leafKey: join(dir, 'localhost.key'),
});

const ok = async (args: string[]) => (await run('openssl', args, { allowFailure: true })).code === 0;

/**
 * Local TLS certificates for https://localhost: a CA plus a leaf (ECDSA P-256, SANs localhost,
 * 127.0.0.1 and ::1). With mkcert installed its CA signs (mkcert -install makes browsers trust
 * it); otherwise an openssl CA, name-constrained to localhost and loopback. Idempotent: keeps a
 * valid leaf it issued, renews one that expires within 30 days, and never overwrites a
 * certificate it did not issue (your own or a real one). openssl does the X.509 work: Node's
 * crypto makes keys but cannot issue certificates.
 */
export async function ensureLocalCertificates(dir: string, options: { useMkcert?: 'auto' | 'never'; quiet?: boolean } = {}): Promise<CertPaths> {
  await ensureTools('openssl');
  const paths = certPaths(dir);
  mkdirSync(dir, { recursive: true });

  if (existsSync(paths.leafCrt) || existsSync(paths.leafKey)) {
    const ours =
      existsSync(paths.leafCrt) && existsSync(paths.leafKey) && existsSync(paths.caCrt) && (await ok(['verify', '-CAfile', paths.caCrt, paths.leafCrt]));
    if (!ours) {
      log(`keeping ${paths.leafCrt}: it was not issued by ${paths.caCrt}, so it is yours; nothing to do`);
      return paths;
    }
    if (await leafIsGood(paths.leafCrt)) {
      if (!options.quiet) log(`keeping valid ${paths.leafCrt} (${await endDate(paths.leafCrt)})`);
      return paths;
    }
    log(`renewing ${paths.leafCrt}: it expires within 30 days or lacks a SAN`);
  }

  const signer = (options.useMkcert ?? 'auto') !== 'never' && which('mkcert') ? await mkcertCa(paths) : undefined;
  const ca = signer ?? (await ownCa(paths, dir));

  // The leaf: a fresh key each time, made in a temporary directory and moved into place together.
  const tmp = mkdtempSync(join(dir, '.certs.'));
  try {
    const key = join(tmp, 'leaf.key');
    const csr = join(tmp, 'leaf.csr');
    const ext = join(tmp, 'leaf.ext');
    const crt = join(tmp, 'leaf.crt');
    await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
    chmodSync(key, 0o600);
    await run('openssl', ['req', '-new', '-key', key, '-subj', '/O=authstack local development/CN=localhost', '-out', csr]);
    writeFileSync(
      ext,
      [
        'basicConstraints = critical, CA:FALSE',
        'keyUsage = critical, digitalSignature',
        'extendedKeyUsage = serverAuth',
        'subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1',
        'subjectKeyIdentifier = hash',
        'authorityKeyIdentifier = keyid',
        '',
      ].join('\n'),
    );
    // A random 128-bit serial, as CAs must use unpredictable serials.
    const serial = `0x${await capture('openssl', ['rand', '-hex', '16'])}`;
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      ca.crt,
      '-CAkey',
      ca.key,
      '-set_serial',
      serial,
      '-days',
      String(LEAF_DAYS),
      '-sha256',
      '-extfile',
      ext,
      '-out',
      crt,
    ]);
    chmodSync(crt, 0o644);
    renameSync(key, paths.leafKey);
    renameSync(crt, paths.leafCrt);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  log(`issued ${paths.leafCrt} (${await endDate(paths.leafCrt)})`);
  if (signer) log("browsers trust it through mkcert's CA (run 'mkcert -install' once if they do not)");
  else if (!options.quiet) printTrustHelp(paths.caCrt, dir);
  return paths;
}

async function leafIsGood(crt: string): Promise<boolean> {
  if (!(await ok(['x509', '-in', crt, '-noout', '-checkend', String(RENEW_WITHIN_SECONDS)]))) return false;
  const sans = (await run('openssl', ['x509', '-in', crt, '-noout', '-ext', 'subjectAltName'], { allowFailure: true })).stdout;
  return sans.includes('DNS:localhost') && sans.includes('IP Address:127.0.0.1') && sans.includes('IP Address:0:0:0:0:0:0:0:1');
}

const endDate = (crt: string) => capture('openssl', ['x509', '-in', crt, '-noout', '-enddate']);

/** mkcert's CA (created and trusted by `mkcert -install`). The leaf is still signed here with
 * openssl, because mkcert issues 825-day certificates and browsers accept at most 397 days. */
async function mkcertCa(paths: CertPaths): Promise<{ crt: string; key: string } | undefined> {
  const install = await run('mkcert', ['-install'], { allowFailure: true });
  if (install.code !== 0) log('mkcert -install failed; the CA exists but may not be trusted yet');
  const caroot = await capture('mkcert', ['-CAROOT']);
  const crt = join(caroot, 'rootCA.pem');
  const key = join(caroot, 'rootCA-key.pem');
  if (!existsSync(crt) || !existsSync(key)) return undefined;
  copyFileSync(crt, paths.caCrt);
  chmodSync(paths.caCrt, 0o644);
  rmSync(paths.caKey, { force: true });
  log(`using mkcert's CA from ${caroot}`);
  return { crt, key };
}

async function ownCa(paths: CertPaths, dir: string): Promise<{ crt: string; key: string }> {
  if (!existsSync(paths.caCrt) || !existsSync(paths.caKey)) {
    log(`creating a local CA in ${dir}`);
    await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', paths.caKey]);
    chmodSync(paths.caKey, 0o600);
    const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
    // Name constraints: even if ca.key leaked, this CA could only vouch for localhost and
    // loopback addresses, so trusting it on a workstation is low-risk.
    await run('openssl', [
      'req',
      '-x509',
      '-new',
      '-key',
      paths.caKey,
      '-sha256',
      '-days',
      String(CA_DAYS),
      '-subj',
      `/O=authstack local development/CN=authstack local CA ${stamp}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE,pathlen:0',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-addext',
      'subjectKeyIdentifier=hash',
      '-addext',
      'nameConstraints=critical,permitted;DNS:localhost,permitted;IP:127.0.0.0/255.0.0.0,permitted;IP:0:0:0:0:0:0:0:1/FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF',
      '-out',
      paths.caCrt,
    ]);
    chmodSync(paths.caCrt, 0o644);
  }
  return { crt: paths.caCrt, key: paths.caKey };
}

function printTrustHelp(caCrt: string, dir: string): void {
  process.stderr.write(`certs: to make browsers and tools trust https://localhost, trust the CA once:
  Debian/Ubuntu (system, curl):  sudo cp ${caCrt} /usr/local/share/ca-certificates/authstack-local-ca.crt && sudo update-ca-certificates
  Chrome/Chromium (Linux, NSS):  certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n authstack-local-ca -i ${caCrt}
  Firefox:                       Settings > Privacy & Security > Certificates > View Certificates > Authorities > Import
  macOS:                         sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain ${caCrt}
  Node.js clients:               NODE_EXTRA_CA_CERTS=${caCrt}
  Or install mkcert and delete ${dir}: the next run uses mkcert's CA, which it trusts for you.
`);
}
