import type { RequestHandler } from 'express';
import type { Server } from 'node:http';
import type { Logger } from './infra/logger.ts';

/**
 * Process lifecycle shared by the app (readiness, connection draining) and the entry point
 * (shutdown). Graceful shutdown:
 * 1. readiness turns 503 and every answer carries `Connection: close`, while requests are still
 *    served for the drain delay: an edge that finds replicas by DNS (swarm dnsrr, Kubernetes
 *    endpoints) keeps sending new requests for a moment after the stop begins, and a POST it
 *    sent to a closed port would fail (nginx never replays a POST on another replica);
 * 2. the listener closes, in-flight requests get until the deadline, then idle and remaining
 *    connections are closed and the dependencies (Redis) are closed last.
 */
export class Lifecycle {
  shuttingDown = false;

  async shutdown(options: {
    server: Server;
    timeoutMs: number;
    drainDelayMs?: number;
    logger: Logger;
    closeDependencies: () => Promise<void>;
  }): Promise<'clean' | 'deadline'> {
    const { server, timeoutMs, drainDelayMs = 0, logger, closeDependencies } = options;
    this.shuttingDown = true;
    logger.info({ event: 'shutdown.start', timeoutMs, drainDelayMs }, 'shutting down');
    if (drainDelayMs > 0) {
      // Idle keep-alive connections end now, so the edge reconnects (and re-resolves) at once.
      server.closeIdleConnections();
      await new Promise((resolve) => setTimeout(resolve, drainDelayMs));
    }

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

/** While shutting down, every answer asks the client (nginx) to drop the connection. */
export function closeConnectionsWhileDraining(lifecycle: Lifecycle): RequestHandler {
  return (_req, res, next) => {
    if (lifecycle.shuttingDown) res.set('Connection', 'close');
    next();
  };
}
