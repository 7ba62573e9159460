import { createServer } from 'node:http';
import { createApp } from './app.ts';
import { bootstrap } from './bootstrap.ts';
import { ConfigError } from './config/config.ts';
import { lowerThreadpoolPriority } from './infra/threadpool-priority.ts';
import { Lifecycle } from './lifecycle.ts';

/**
 * The process owner: config -> clients -> app -> listen -> signals. Nothing else in the
 * code base listens on a port or touches process signals.
 */
async function main(): Promise<void> {
  let runtime;
  try {
    // Redis first: node-redis keeps retrying the first connection; serving starts only once
    // Redis answers, so the bootstrap user exists before the first login.
    runtime = await bootstrap({ warmUpHasher: true });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`authstack: ${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  const { config, logger, domain } = runtime;
  // The warm-up hash created libuv's threadpool: from now on argon2 yields to the event loop.
  lowerThreadpoolPriority(logger);
  const lifecycle = new Lifecycle();
  const { app } = createApp({ ...runtime, lifecycle });

  // Users from before the look-alike rule get their claim, so their look-alikes are refused too.
  const claimed = await domain.users.claimMissingSkeletons();
  if (claimed > 0)
    logger.info(
      { event: 'users.skeletons_claimed', count: claimed },
      `claimed the look-alike skeleton of ${claimed} existing users`,
    );
  if (config.admin) {
    const outcome = await domain.accounts.ensureUser(config.admin.username, config.admin.password);
    logger.info({ event: 'admin.bootstrap', outcome, username: config.admin.username }, `admin user ${outcome}`);
  }

  const server = createServer(app);
  // Slightly above nginx's keepalive_timeout, so nginx (not us) closes idle upstream sockets.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  logger.info(
    { event: 'server.listening', host: config.host, port: config.port },
    `listening on ${config.host}:${config.port}`,
  );

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ event: 'signal', signal }, `received ${signal}`);
    lifecycle
      .shutdown({
        server,
        timeoutMs: config.shutdownTimeoutMs,
        drainDelayMs: config.shutdownDrainDelayMs,
        logger,
        closeDependencies: () => runtime.close(),
      })
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        logger.fatal({ err: error, event: 'shutdown.failed' }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The access rules reload in place: nobody is signed out, an invalid file keeps the rules in force.
  process.on('SIGHUP', () => runtime.domain.access.reload());
}

main().catch((error: unknown) => {
  process.stderr.write(
    `authstack: fatal start-up error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
