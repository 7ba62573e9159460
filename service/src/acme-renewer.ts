import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { loadAcmeConfig } from './acme/acme-config.ts';
import { Certbot } from './acme/certbot.ts';
import { Renewer, createAcmeMetrics } from './acme/renewer.ts';
import { ConfigError } from './config/config.ts';
import { systemClock } from './infra/clock.ts';
import { createLogger } from './infra/logger.ts';

/**
 * The certificate renewer's process: config -> renewer -> metrics listener -> signals.
 *   node dist/acme-renewer.js prepare   put a certificate in place for nginx's first start, exit
 *   node dist/acme-renewer.js           keep it renewed (SIGUSR2: renew now; SIGTERM: stop)
 */
async function main(command: string | undefined): Promise<void> {
  let config;
  try {
    config = loadAcmeConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`authstack acme: ${error.message}\n`);
    process.exit(78); // EX_CONFIG
  }
  const logger = createLogger(config.logLevel).child({ component: 'acme' });
  const metrics = createAcmeMetrics();
  const reload = async () => {
    if (!config.nginxPidFile) return;
    const pid = Number(readFileSync(config.nginxPidFile, 'utf8').trim());
    process.kill(pid, 'SIGHUP');
    logger.info({ event: 'acme.nginx_reloaded', pid }, 'nginx reloads with the new certificate');
  };
  const renewer = new Renewer({
    config,
    certbot: new Certbot({ config }),
    clock: systemClock,
    logger,
    metrics,
    reload,
  });
  await renewer.prepare();
  if (command === 'prepare') return logger.flush();
  if (command !== undefined) throw new Error(`unknown command ${command}: prepare, or nothing to run`);

  const server = createServer((req, res) => {
    if (req.url !== '/metrics') return void res.writeHead(404).end();
    void metrics.registry
      .metrics()
      .then((body) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body));
  });
  await new Promise<void>((resolve) => server.listen(config.metrics.port, config.metrics.host, resolve));
  logger.info({ event: 'acme.started', domain: config.domain, directory: config.directory }, 'renewer started');
  renewer.start();

  process.on('SIGUSR2', () => {
    logger.info({ event: 'acme.renew_requested' }, 'renewal requested (SIGUSR2)');
    void renewer.check({ force: true });
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      void renewer.stop().then(() => {
        server.close();
        logger.flush();
        process.exit(0);
      });
    });
  }
}

void main(process.argv[2]).catch((error: unknown) => {
  process.stderr.write(`authstack acme: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
