// The service under test, in its own process: the built app (dist/) on a loopback port, so
// the benchmark's own client work never shares the service's event loop or heap. Opened with
// the same bootstrap as the server; driven over IPC by bench/lib/service.ts. Started with
// --expose-gc for memory readings.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import type * as AppModule from '../../service/src/app.ts';
import type * as BootstrapModule from '../../service/src/bootstrap.ts';

// The compiled service, as it runs in production (typed from its source).
const dist = new URL('../../dist/', import.meta.url);
const { bootstrap } = (await import(new URL('bootstrap.js', dist).href)) as typeof BootstrapModule;
const { createApp } = (await import(new URL('app.js', dist).href)) as typeof AppModule;

type Runtime = Awaited<ReturnType<typeof bootstrap>>;
let state: { server: Server; runtime: Runtime } | undefined;
const running = () => {
  if (!state) throw new Error('not started');
  return state;
};

const handlers: Record<string, (args: Record<string, unknown>) => Promise<unknown>> = {
  async start({ env }) {
    // Logs are not what is measured: drop them (5xx are counted by the client instead).
    const runtime = await bootstrap({
      env: env as NodeJS.ProcessEnv,
      logDestination: new Writable({ write: (_chunk, _enc, done) => done() }),
      defaultMetrics: false,
      // As server.ts does: the decoy hash exists before the first login.
      warmUpHasher: true,
    });
    const server = createServer(createApp(runtime).app);
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    state = { server, runtime };
    return { port: (server.address() as AddressInfo).port };
  },
  async createUser({ username, password }) {
    const user = await running().runtime.domain.accounts.create(username as string, password as string);
    return { id: user.id };
  },
  async memory() {
    const gc = (globalThis as { gc?: () => void }).gc;
    for (let i = 0; i < 4; i += 1) {
      gc?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    const { rss, heapUsed } = process.memoryUsage();
    return { rss, heapUsed, gc: typeof gc === 'function' };
  },
  async stop() {
    const { server, runtime } = running();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await runtime.close();
    setImmediate(() => process.exit(0));
    return {};
  },
};

process.on('message', (message: { id: number; command: string; args?: Record<string, unknown> }) => {
  const { id, command, args } = message;
  handlers[command]!(args ?? {}).then(
    (result) => process.send!({ id, result }),
    (error: unknown) =>
      process.send!({ id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
  );
});
process.on('disconnect', () => process.exit(0));
