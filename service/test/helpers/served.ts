import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { startEdge } from '../../../testkit/nginx.ts';

/** The app on a real loopback port, for tests that send thousands of requests over keep-alive. */
export async function serve(app: Express): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export type ServedBehindEdge = Awaited<ReturnType<typeof startEdge>> & { close(): Promise<void> };

/**
 * The app on a loopback port behind real nginx running the project's configuration (testkit's
 * startEdge, with its template variables and options); `close` stops nginx, then the app's server.
 */
export async function serveBehindEdge(
  app: Express,
  vars?: Parameters<typeof startEdge>[1],
  options?: Parameters<typeof startEdge>[2],
): Promise<ServedBehindEdge> {
  const server = await serve(app);
  // An nginx that does not come up must not leave the server holding the test run open.
  const edge = await startEdge(Number(new URL(server.url).port), vars, options).catch(async (error: unknown) => {
    await server.close();
    throw error;
  });
  return {
    ...edge,
    async close() {
      await edge.stop();
      await server.close();
    },
  };
}

/** Runs `task(i)` for i in [0, count) with at most `concurrency` at once. */
export async function pool(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

/** INFO fields of a Redis (used_memory, evicted_keys, total_commands_processed, ...). */
export function infoNumber(info: string, field: string): number {
  return Number(new RegExp(`^${field}:(\\d+)`, 'm').exec(info)?.[1]);
}

/**
 * Commands Redis ran, by name (INFO commandstats), without the INFO that reads them and the
 * client's idle-connection PINGs (node-redis pingInterval): what the service itself asked for.
 */
export async function commandCounts(redis: {
  info(section: string): Promise<string>;
}): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const [, name, calls] of (await redis.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (name !== 'info' && name !== 'ping') counts[name!] = Number(calls);
  }
  return counts;
}
