import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { freePorts } from './ports.ts';

/**
 * Let's Encrypt's test CA for the ACME tests, as Debian packages it: `pebble` (the ACME server,
 * state in memory, a new issuing root at every start) and `pebble-challtestsrv` as its DNS, so a
 * test name such as auth.example.test resolves to the edge under test. Pebble's own HTTPS
 * listener gets a certificate from mkcert (the package ships none); clients of the ACME API
 * trust `apiCa`, browsers and curl trust `root()`, the CA that signs what Pebble issues.
 */
export interface Pebble {
  /** The ACME directory URL (ACME_DIRECTORY). */
  directory: string;
  /** The CA of Pebble's own HTTPS listener (ACME_CA_BUNDLE). */
  apiCa: string;
  /** Pebble's log: every order it placed is a line. */
  logFile: string;
  /** The root that signs Pebble's certificates (PEM); changes at every start. */
  root(): Promise<string>;
  /** Orders placed since Pebble started. */
  orders(): number;
  /** The ACME server's process id while it runs (a test elsewhere may take the CA down by it). */
  pid(): number | undefined;
  /** The CA goes away (connections are refused) and comes back, a new CA with empty state. */
  stop(): Promise<void>;
  start(): Promise<void>;
}

export interface PebbleOptions {
  dir: string;
  /** The address Pebble listens on; the name the ACME clients use must be in `apiNames`. */
  listen: string;
  apiNames: string[];
  /** The port Pebble validates HTTP-01 on (the edge's plain-HTTP port). */
  httpPort: number;
  /** Names the CA will certify, and the address they resolve to (where the edge listens). */
  hosts: Record<string, string>;
  /** Lifetime of issued certificates; short ones make renewal quick to test. */
  validitySeconds?: number;
}

const ORDER_LINE = /Added order/;

export async function startPebble(options: PebbleOptions): Promise<Pebble> {
  const { dir } = options;
  mkdirSync(dir, { recursive: true });
  const tls = { cert: join(dir, 'pebble.crt'), key: join(dir, 'pebble.key'), ca: join(dir, 'rootCA.pem') };
  const made = spawnSync('mkcert', ['-cert-file', tls.cert, '-key-file', tls.key, ...options.apiNames], {
    env: { ...process.env, CAROOT: dir },
    encoding: 'utf8',
  });
  if (made.status !== 0) throw new Error(`mkcert for Pebble failed: ${made.stderr || made.error}`);
  const [acmePort, managementPort, dnsPort, challengeManagementPort, tlsAlpnPort] = (await freePorts(5)) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const config = join(dir, 'pebble-config.json');
  writeFileSync(
    config,
    JSON.stringify({
      pebble: {
        listenAddress: `${options.listen}:${acmePort}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: tls.cert,
        privateKey: tls.key,
        httpPort: options.httpPort,
        tlsPort: tlsAlpnPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
        certificateValidityPeriod: options.validitySeconds ?? 3600,
      },
    }),
  );
  const logFile = join(dir, 'pebble.log');
  const agent = new Agent({ connect: { ca: readFileSync(tls.ca, 'utf8') } });
  const management = `https://127.0.0.1:${managementPort}`;
  let dns: ChildProcess | undefined;
  let pebble: ChildProcess | undefined;
  let logStart = 0;

  const spawnLogged = (command: string, args: string[], env: NodeJS.ProcessEnv, log: string) => {
    const out = openSync(log, 'a');
    return spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', out, out] });
  };
  const until = async (what: string, ready: () => Promise<boolean>) => {
    for (let tries = 0; tries < 100; tries += 1) {
      if (await ready().catch(() => false)) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`${what} did not come up; see ${dir}`);
  };

  const handle: Pebble = {
    directory: `https://${options.apiNames[0]}:${acmePort}/dir`,
    apiCa: tls.ca,
    logFile,
    async root() {
      const res = await request(`${management}/roots/0`, { dispatcher: agent });
      return res.body.text();
    },
    orders() {
      return readFileSync(logFile, 'utf8')
        .slice(logStart)
        .split('\n')
        .filter((line) => ORDER_LINE.test(line)).length;
    },
    pid() {
      return pebble?.exitCode === null ? pebble.pid : undefined;
    },
    async stop() {
      for (const child of [pebble, dns]) {
        // Skipped when it already ended (an exit code, or the signal that killed it).
        if (child && child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGTERM');
          await exited;
        }
      }
      pebble = dns = undefined;
    },
    async start() {
      // challtestsrv: DNS only (its own HTTP-01/TLS-ALPN responders off); no AAAA answers, so
      // Pebble's validation never tries ::1 where nothing listens.
      dns = spawnLogged(
        'pebble-challtestsrv',
        [
          ...['-dns01', `127.0.0.1:${dnsPort}`, '-management', `127.0.0.1:${challengeManagementPort}`],
          ...['-http01', '', '-https01', '', '-tlsalpn01', ''],
          ...['-defaultIPv4', '127.0.0.1', '-defaultIPv6', ''],
        ],
        {},
        join(dir, 'challtestsrv.log'),
      );
      await until('pebble-challtestsrv', async () => {
        for (const [host, address] of Object.entries(options.hosts)) {
          const res = await request(`http://127.0.0.1:${challengeManagementPort}/add-a`, {
            method: 'POST',
            body: JSON.stringify({ host, addresses: [address] }),
          });
          await res.body.text();
          if (res.statusCode !== 200) return false;
        }
        return true;
      });
      logStart = (() => {
        try {
          return readFileSync(logFile, 'utf8').length;
        } catch {
          return 0;
        }
      })();
      // No random sleep before validating, no rejected nonces, no reused authorizations: every
      // order is validated, quickly and deterministically.
      pebble = spawnLogged(
        'pebble',
        ['-config', config, '-dnsserver', `127.0.0.1:${dnsPort}`, '-strict=false'],
        { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' },
        logFile,
      );
      await until('pebble', async () => (await handle.root()).includes('BEGIN CERTIFICATE'));
    },
  };
  await handle.start();
  return handle;
}
