import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import { freePorts, isPortFree, pickPort } from './ports.ts';

const held: Server[] = [];
const hold = async (port = 0): Promise<number> => {
  const server = createServer();
  held.push(server);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
};
afterEach(async () => {
  await Promise.all(held.splice(0).map((s) => new Promise((done) => s.close(done))));
});

describe('ports', () => {
  it('when ports are asked for, then they are distinct and free', async () => {
    const ports = await freePorts(4);

    expect(new Set(ports).size).toBe(4);
    for (const port of ports) expect(await isPortFree(port)).toBe(true);
  });

  it('when an explicit port is taken, then picking it fails naming the port', async () => {
    const busy = await hold();

    await expect(pickPort('HTTPS', { explicit: String(busy), preferred: 443 })).rejects.toThrow(
      `HTTPS port ${busy} is in use`,
    );
    await expect(pickPort('HTTPS', { explicit: 'abc', preferred: 443 })).rejects.toThrow(/must be a number/);
  });

  it('when the preferred port is taken, then the fallback is chosen and the choice is said', async () => {
    const [busy, fallback] = [await hold(), (await freePorts(1))[0]!];

    const choice = await pickPort('HTTPS', { preferred: busy, fallback });

    expect(choice.port).toBe(fallback);
    expect(choice.note).toContain(`port ${busy} cannot be bound`);
  });

  it('when preferred and fallback are both taken, then any free port is chosen', async () => {
    const [a, b] = [await hold(), await hold()];

    const choice = await pickPort('service', { preferred: a, fallback: b });

    expect([a, b]).not.toContain(choice.port);
    expect(await isPortFree(choice.port)).toBe(true);
  });
});
