import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inFlightLogin } from '../helpers/in-flight-login.ts';
import { buildTestApp, createUser, type TestApp } from '../helpers/test-app.ts';

describe('graceful shutdown', () => {
  let t: TestApp;
  let server: Server;
  let port: number;
  beforeEach(async () => {
    t = await buildTestApp();
    server = createServer(t.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterEach(async () => {
    server.closeAllConnections();
    await t.close();
  });

  it('when SIGTERM-style shutdown starts with a request in flight, then readiness turns 503, the request still completes and Redis is closed last', async () => {
    const { username, password } = await createUser(t);
    const flight = inFlightLogin(port, JSON.stringify({ username, password }));
    await new Promise((r) => setTimeout(r, 50));

    const shutdown = t.lifecycle.shutdown({
      server,
      timeoutMs: 5000,
      logger: t.logger,
      closeDependencies: () => t.redis.close(),
    });
    expect(t.lifecycle.shuttingDown).toBe(true);
    // New connections are refused once the listener is closed.
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    flight.finish();

    const res = await flight.response;
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).user.username).toBe(username);
    expect(await shutdown).toBe('clean');
    expect(t.redis.isOpen).toBe(false);
  });

  it('when shutdown has a drain delay, then new requests are still served during it, with readiness 503 and Connection: close, and refused after it', async () => {
    const shutdown = t.lifecycle.shutdown({
      server,
      timeoutMs: 5000,
      drainDelayMs: 400,
      logger: t.logger,
      closeDependencies: () => t.redis.close(),
    });

    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(ready.status).toBe(503);
    expect(ready.headers.get('connection')).toBe('close');
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    expect(health.headers.get('connection')).toBe('close');

    expect(await shutdown).toBe('clean');
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });

  it('when a request does not finish before the deadline, then its connection is closed and shutdown still completes', async () => {
    const flight = inFlightLogin(port, JSON.stringify({ username: 'someone', password: 'never finished' }));
    flight.response.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 50));

    const outcome = await t.lifecycle.shutdown({
      server,
      timeoutMs: 300,
      logger: t.logger,
      closeDependencies: () => t.redis.close(),
    });

    expect(outcome).toBe('deadline');
    await expect(flight.response).rejects.toThrow();
    expect(t.logs.events('shutdown.deadline')).toHaveLength(1);
  });
});
