import type { Server } from 'node:http';
import type { Logger } from './infra/logger.ts';

/**
 * Process lifecycle shared by the app (readiness) and the entry point (shutdown).
 * Graceful shutdown: readiness turns 503 so the proxy stops sending new work, the listener
 * closes, in-flight requests get until the deadline, then idle and remaining connections
 * are closed and the dependencies (Redis) are closed last.
 */
export class Lifecycle {
  shuttingDown = false;

  async shutdown(options: { server: Server; timeoutMs: number; logger: Logger; closeDependencies: () => Promise<void> }): Promise<'clean' | 'deadline'> {
    const { server, timeoutMs, logger, closeDependencies } = options;
    this.shuttingDown = true;
    logger.info({ event: 'shutdown.start', timeoutMs }, 'shutting down');

    const closed = new Promise<'clean'>((resolve) => server.close(() => resolve('clean')));
    // Keep-alive connections with no request in flight would hold close() open forever.
    server.closeIdleConnections();
    const idleSweep = setInterval(() => server.closeIdleConnections(), 100);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((resolve) => {
      timer = setTimeout(() => resolve('deadline'), timeoutMs);
    });
    const outcome = await Promise.race([closed, deadline]);
    clearInterval(idleSweep);
    clearTimeout(timer);
    if (outcome === 'deadline') {
      logger.warn({ event: 'shutdown.deadline' }, 'in-flight requests did not finish in time; closing connections');
      server.closeAllConnections();
    }
    await closeDependencies();
    logger.info({ event: 'shutdown.done', outcome }, 'shutdown complete');
    return outcome;
  }
}
