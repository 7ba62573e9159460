// The service under test, in its own process: the compiled app from dist/ on a loopback
// port, so the benchmark's own client work never shares the service's event loop or heap.
// Driven over IPC by bench/lib/service.mjs. Started with --expose-gc for memory readings.
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { Writable } from 'node:stream';

const require = createRequire(import.meta.url);
const { createApp } = require('../../dist/app.js');
const { loadConfig } = require('../../dist/config/config.js');
const { createLogger } = require('../../dist/infra/logger.js');
const { createMetrics } = require('../../dist/infra/metrics.js');
const { createRedisClient } = require('../../dist/infra/redis-client.js');
const { systemClock } = require('../../dist/infra/clock.js');

let state;

const handlers = {
  async start({ env }) {
    const config = loadConfig(env);
    // Logs are not what is measured: drop them (5xx are counted by the client instead).
    const logger = createLogger(config.logLevel, new Writable({ write: (_chunk, _enc, done) => done() }));
    const metrics = createMetrics({ collectDefaults: false });
    const redis = createRedisClient({ ...config.redis, logger });
    await redis.connect();
    const { app, domain } = createApp({ config, redis, logger, metrics, clock: systemClock });
    // As server.ts does: the decoy hash exists before the first login.
    await domain.hasher.warmUp();
    const server = createServer(app);
    server.keepAliveTimeout = 65_000;
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    state = { server, redis, domain, metrics };
    return { port: server.address().port };
  },
  async createUser({ username, password }) {
    const user = await state.domain.accounts.create(username, password);
    return { id: user.id };
  },
  async memory() {
    for (let i = 0; i < 4; i += 1) {
      globalThis.gc?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    const { rss, heapUsed } = process.memoryUsage();
    return { rss, heapUsed, gc: typeof globalThis.gc === 'function' };
  },
  async stop() {
    state.server.closeAllConnections();
    await new Promise((resolve) => state.server.close(resolve));
    await state.redis.close().catch(() => state.redis.destroy());
    setImmediate(() => process.exit(0));
    return {};
  },
};

process.on('message', async ({ id, command, args }) => {
  try {
    process.send({ id, result: await handlers[command](args ?? {}) });
  } catch (error) {
    process.send({ id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  }
});
process.on('disconnect', () => process.exit(0));
