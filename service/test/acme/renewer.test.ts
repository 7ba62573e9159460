import { chmodSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { loadAcmeConfig, type AcmeConfig } from '../../src/acme/acme-config.ts';
import { Certbot } from '../../src/acme/certbot.ts';
import { readCertificate } from '../../src/acme/certificate-files.ts';
import { Renewer, createAcmeMetrics, type AcmeMetrics } from '../../src/acme/renewer.ts';
import { systemClock } from '../../src/infra/clock.ts';
import { httpClient } from '../../../testkit/http.ts';
import { startEdge } from '../../../testkit/nginx.ts';
import { startPebble, type Pebble } from '../../../testkit/pebble.ts';
import { freePorts } from '../../../testkit/ports.ts';
import { suiteScratchDir } from '../../../testkit/scratch-dir.ts';
import { serve } from '../helpers/served.ts';
import { LogCapture, buildTestApp, createUser, type TestApp } from '../helpers/test-app.ts';
import { createLogger } from '../../src/infra/logger.ts';

const NAME = 'auth.example.test';

/** The serial of the certificate nginx serves right now (a fresh TLS connection). */
function servedSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: NAME, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate().serialNumber.toUpperCase());
      socket.end();
    });
    socket.once('error', reject);
  });
}

async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let tries = 0; tries < 100; tries += 1) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} did not happen within 10 s`);
}

/**
 * Issue #19: certificates from a real ACME server (Let's Encrypt's Pebble, with its DNS), through
 * the real edge (the project's nginx answering HTTP-01 from the webroot), installed and reloaded
 * by the renewer with certbot as its ACME client, in front of the real app.
 */
describe('the certificate renewer against Pebble', () => {
  const dir = suiteScratchDir('acme-');
  let pebble: Pebble;
  let config: AcmeConfig;
  let t: TestApp;
  let server: Awaited<ReturnType<typeof serve>>;
  let edge: Awaited<ReturnType<typeof startEdge>>;
  let origin: string;
  let pebbleRoot: string;
  const logs = new LogCapture();

  const renewer = (metrics: AcmeMetrics = createAcmeMetrics()) =>
    new Renewer({
      config,
      certbot: new Certbot({ config }),
      clock: systemClock,
      logger: createLogger('info', logs.stream),
      metrics,
      reload: async () => void process.kill(Number(readFileSync(edge.pidFile, 'utf8').trim()), 'SIGHUP'),
    });

  beforeAll(async () => {
    // nginx's workers (www-data) read the challenge files: the webroot's parents must let them through.
    chmodSync(dir, 0o755);
    const [https, http] = (await freePorts(2)) as [number, number];
    origin = `https://${NAME}:${https}`;
    pebble = await startPebble({
      dir: join(dir, 'pebble'),
      listen: '127.0.0.1',
      apiNames: ['127.0.0.1'],
      httpPort: http,
      hosts: { [NAME]: '127.0.0.1' },
    });
    config = loadAcmeConfig({
      PUBLIC_ORIGIN: origin,
      ACME_DIRECTORY: pebble.directory,
      ACME_CA_BUNDLE: pebble.apiCa,
      ACME_STATE_DIR: join(dir, 'state'),
      ACME_WEBROOT: join(dir, 'webroot'),
      TLS_CERT: join(dir, 'tls', 'fullchain.pem'),
      TLS_KEY: join(dir, 'tls', 'privkey.pem'),
      ACME_RETRY_AFTER: '1m',
    });
    await renewer().prepare();
    t = await buildTestApp({ PUBLIC_ORIGIN: origin });
    server = await serve(t.app);
    edge = await startEdge(
      Number(new URL(server.url).port),
      { PUBLIC_ORIGIN: origin, TLS_CERT: config.certFile, TLS_KEY: config.keyFile, ACME_WEBROOT: config.webroot },
      { ports: { https, http } },
    );
    pebbleRoot = join(dir, 'pebble-root.pem');
    writeFileSync(pebbleRoot, await pebble.root());
  });
  afterAll(async () => {
    await edge?.stop();
    await server?.close();
    await t?.close();
    await pebble?.stop();
  });

  it('when nginx starts before any certificate exists, then it serves a placeholder, the first check obtains one over HTTP-01, nginx serves it, and a client trusting only Pebble completes a login', async () => {
    const placeholder = readCertificate(config.certFile)!;
    expect(placeholder.placeholder).toBe(true);
    expect(await servedSerial(edge.port)).toBe(placeholder.serial.toUpperCase());

    const metrics = createAcmeMetrics();
    // On failure, the expectation shows certbot's reason.
    expect({ outcome: await renewer(metrics).check(), failures: logs.events('acme.failed') }).toEqual({
      outcome: 'installed',
      failures: [],
    });
    const issued = readCertificate(config.certFile)!;
    expect(issued.placeholder).toBe(false);
    expect(issued.issuer).toMatch(/Pebble/);
    await eventually(
      'nginx serving the issued certificate',
      async () => (await servedSerial(edge.port)) === issued.serial.toUpperCase(),
    );
    expect(await metrics.registry.getSingleMetricAsString('acme_renewals_total')).toMatch(/outcome="issued"} 1/);

    const { username, password } = await createUser(t);
    const { send } = httpClient({ caFiles: [pebbleRoot], connectTo: '127.0.0.1' });
    const login = await send(`${origin}/api/login`, { headers: { origin }, json: { username, password } });
    expect(login.status).toBe(200);
    // The state certbot keeps (account key, lineage) and the installed key are private.
    expect(statSync(config.stateDir).mode & 0o777).toBe(0o700);
    expect(statSync(config.keyFile).mode & 0o777).toBe(0o600);
  });

  it('when a renewal is forced under continuous HTTPS load, then no request fails and nginx serves the new serial', async () => {
    const before = readCertificate(config.certFile)!;
    const { send } = httpClient({ caFiles: [pebbleRoot], connectTo: '127.0.0.1' });
    let stop = false;
    const outcomes: string[] = [];
    // New connections throughout (no keep-alive), so handshakes meet the old and the new certificate.
    const worker = async () => {
      while (!stop) {
        outcomes.push(
          await send(`${origin}/healthz`).then(
            (r) => String(r.status),
            (e: Error) => e.message,
          ),
        );
      }
    };
    const load = Array.from({ length: 4 }, worker);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await renewer().check({ force: true })).toBe('installed');
    const after = readCertificate(config.certFile)!;
    expect(after.serial).not.toBe(before.serial);
    await eventually(
      'nginx serving the renewed certificate',
      async () => (await servedSerial(edge.port)) === after.serial.toUpperCase(),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    stop = true;
    await Promise.all(load);
    expect(outcomes.length).toBeGreaterThan(20);
    expect(outcomes.filter((o) => o !== '200')).toEqual([]);
  });

  it('when the renewer restarts ten times with a valid certificate, then it places no order', async () => {
    const orders = pebble.orders();
    for (let restart = 0; restart < 10; restart += 1) {
      const fresh = renewer();
      await fresh.prepare();
      expect(await fresh.check()).toBe('current');
    }
    expect(pebble.orders()).toBe(orders);
  });

  it('when the files nginx reads are lost, then a restart reinstalls the certificate certbot kept, without an order', async () => {
    const kept = readCertificate(config.certFile)!;
    const orders = pebble.orders();
    rmSync(config.certFile);
    rmSync(config.keyFile);
    await renewer().prepare();
    expect(readCertificate(config.certFile)?.serial).toBe(kept.serial);
    expect(pebble.orders()).toBe(orders);
  });

  it('when the CA is down, then the order fails, the failure is counted, nginx keeps serving the current certificate and the retries back off', async () => {
    const current = readCertificate(config.certFile)!;
    await pebble.stop();
    try {
      const metrics = createAcmeMetrics();
      const down = renewer(metrics);
      expect(await down.check({ force: true })).toBe('failed');
      expect(await metrics.registry.getSingleMetricAsString('acme_renewal_failures_total')).toMatch(/ 1$/m);
      expect(readCertificate(config.certFile)?.serial).toBe(current.serial);
      expect(await servedSerial(edge.port)).toBe(current.serial.toUpperCase());
      const firstRetry = down.nextDelayMs('failed');
      expect(await down.check({ force: true })).toBe('failed');
      const secondRetry = down.nextDelayMs('failed');
      expect(firstRetry).toBeGreaterThanOrEqual(0.9 * 60_000);
      expect(firstRetry).toBeLessThanOrEqual(1.1 * 60_000);
      expect(secondRetry).toBeGreaterThanOrEqual(0.9 * 120_000);
      expect(logs.events('acme.failed').length).toBeGreaterThanOrEqual(2);
    } finally {
      await pebble.start();
    }
  });
});
