import { Counter, Gauge, Registry } from 'prom-client';
import type { Clock } from '../infra/clock.ts';
import type { Logger } from '../infra/logger.ts';
import type { AcmeConfig } from './acme-config.ts';
import { CertbotError, type Certbot } from './certbot.ts';
import { installCertificate, readCertificate, renewalDue, writePlaceholder } from './certificate-files.ts';

export interface AcmeMetrics {
  registry: Registry;
  expiry: Gauge;
  renewals: Counter<'outcome'>;
  failures: Counter;
  lastSuccess: Gauge;
}

export function createAcmeMetrics(): AcmeMetrics {
  const registry = new Registry();
  const registers = [registry];
  const metrics: AcmeMetrics = {
    registry,
    expiry: new Gauge({
      name: 'acme_certificate_expiry_timestamp_seconds',
      help: 'When the certificate installed for nginx expires (Unix time)',
      registers,
    }),
    renewals: new Counter({
      name: 'acme_renewals_total',
      help: 'Certificates installed from the CA: issued (the first for this name) or renewed',
      labelNames: ['outcome'],
      registers,
    }),
    failures: new Counter({
      name: 'acme_renewal_failures_total',
      help: 'Orders that failed (CA unreachable, challenge failed, rate limited); the current certificate stays',
      registers,
    }),
    lastSuccess: new Gauge({
      name: 'acme_last_success_timestamp_seconds',
      help: 'When a certificate was last installed from the CA (Unix time)',
      registers,
    }),
  };
  // Every outcome from the start, at 0: increase() over a restart then sees the first one.
  for (const outcome of ['issued', 'renewed']) metrics.renewals.inc({ outcome }, 0);
  return metrics;
}

export type CheckOutcome = 'current' | 'installed' | 'failed';

export interface RenewerDeps {
  config: AcmeConfig;
  certbot: Pick<Certbot, 'obtain' | 'lineage'>;
  clock: Clock;
  logger: Logger;
  metrics: AcmeMetrics;
  /** Makes nginx read the new files (HUP natively; compose's nginx notices them itself). */
  reload: () => Promise<void>;
  random?: () => number;
}

/**
 * Keeps a certificate from the CA installed for nginx. Checks at start and every
 * ACME_CHECK_INTERVAL (12 h: twice a day), orders when no real certificate is installed or a
 * third of its lifetime is left, and installs and reloads only after the CA has delivered: a
 * failure (CA down, challenge failed) leaves the current certificate in place and retries after
 * ACME_RETRY_AFTER, doubling up to the check interval. A restart with a valid certificate
 * orders nothing.
 */
export class Renewer {
  private readonly deps: RenewerDeps;
  private readonly random: () => number;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<CheckOutcome> | undefined;
  private consecutiveFailures = 0;
  private stopped = false;
  /** Ends a running certbot when the renewer stops (its order is simply placed again next time). */
  private readonly abort = new AbortController();

  constructor(deps: RenewerDeps) {
    this.deps = deps;
    this.random = deps.random ?? Math.random;
  }

  private get target() {
    return { certFile: this.deps.config.certFile, keyFile: this.deps.config.keyFile };
  }

  /** Before nginx starts, something must be at TLS_CERT: the lineage certbot kept, or a placeholder. */
  async prepare(): Promise<void> {
    const { certbot, config, logger } = this.deps;
    const lineage = certbot.lineage();
    const installed = readCertificate(config.certFile);
    if (lineage && readCertificate(lineage.certFile)?.serial !== installed?.serial) {
      installCertificate(lineage, this.target);
      logger.info({ event: 'acme.installed_from_state' }, 'installed the certificate kept in the ACME state directory');
    } else if (!installed) {
      await writePlaceholder(config.domain, this.target);
      logger.info(
        { event: 'acme.placeholder', domain: config.domain },
        'no certificate yet: nginx starts on a placeholder',
      );
    }
    this.observe();
  }

  /** One check; concurrent calls share it (a forced renewal during a scheduled one runs once). */
  check(options: { force?: boolean } = {}): Promise<CheckOutcome> {
    this.inFlight ??= this.runCheck(options.force ?? false).finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async runCheck(force: boolean): Promise<CheckOutcome> {
    const { certbot, clock, config, logger, metrics } = this.deps;
    const installed = readCertificate(config.certFile);
    const firstIssue = !installed || installed.placeholder;
    if (!force && !firstIssue && !renewalDue(installed, clock.now())) return 'current';
    logger.info(
      { event: 'acme.order', domain: config.domain, reason: force ? 'forced' : firstIssue ? 'first' : 'due' },
      `ordering a certificate for ${config.domain}`,
    );
    try {
      const pair = await certbot.obtain(this.abort.signal);
      installCertificate(pair, this.target);
      await this.deps.reload();
      const cert = readCertificate(config.certFile);
      metrics.renewals.inc({ outcome: firstIssue ? 'issued' : 'renewed' });
      metrics.lastSuccess.set(clock.now() / 1000);
      this.consecutiveFailures = 0;
      logger.info(
        { event: 'acme.installed', serial: cert?.serial, notAfter: cert && new Date(cert.notAfterMs).toISOString() },
        `installed a certificate from ${cert?.issuer}`,
      );
      return 'installed';
    } catch (error) {
      this.consecutiveFailures += 1;
      metrics.failures.inc();
      logger.error(
        {
          event: 'acme.failed',
          err: error instanceof CertbotError ? { message: error.message, detail: error.detail } : error,
          attempt: this.consecutiveFailures,
        },
        'the order failed; the current certificate stays',
      );
      return 'failed';
    } finally {
      this.observe();
    }
  }

  /** When to check next: the interval after a success, a doubling retry after failures; ±10 % jitter. */
  nextDelayMs(outcome: CheckOutcome): number {
    const { checkIntervalMs, retryAfterMs } = this.deps.config;
    const base =
      outcome === 'failed'
        ? Math.min(retryAfterMs * 2 ** (this.consecutiveFailures - 1), checkIntervalMs)
        : checkIntervalMs;
    // Spread the checks of many installations, as CAs ask of clients.
    return Math.round(base * (0.9 + 0.2 * this.random()));
  }

  start(): void {
    const loop = async (): Promise<void> => {
      const outcome = await this.check();
      if (!this.stopped) this.timer = setTimeout(() => void loop(), this.nextDelayMs(outcome));
    };
    void loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort.abort();
    await this.inFlight;
  }

  private observe(): void {
    const cert = readCertificate(this.deps.config.certFile);
    if (cert) this.deps.metrics.expiry.set(cert.notAfterMs / 1000);
  }
}
