import { createServer } from 'node:net';

/** True when nothing listens on the port (and we may bind it) on the address. */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** `count` distinct free ports chosen by the kernel (held together, so they differ). */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  const ports = await Promise.all(
    servers.map(
      (server) =>
        new Promise<number>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ port: 0, host }, () => resolve((server.address() as { port: number }).port));
        }),
    ),
  );
  await Promise.all(servers.map((server) => new Promise((done) => server.close(done))));
  return ports;
}

export interface PortChoice {
  port: number;
  /** Set when the wanted port could not be used and another was chosen. */
  note?: string;
}

/**
 * The port a component listens on: an explicit one must be free (else an error naming it);
 * otherwise the default, else the fallback, else any free port, saying what it chose.
 */
export async function pickPort(
  label: string,
  options: { explicit?: string; preferred: number; fallback?: number; host?: string },
): Promise<PortChoice> {
  const host = options.host ?? '127.0.0.1';
  if (options.explicit !== undefined && options.explicit !== '') {
    const port = Number(options.explicit);
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new Error(`${label} port must be a number from 1 to 65535, got '${options.explicit}'`);
    if (!(await isPortFree(port, host)))
      throw new Error(`${label} port ${port} is in use (or needs root); free it or choose another`);
    return { port };
  }
  if (await isPortFree(options.preferred, host)) return { port: options.preferred };
  if (options.fallback !== undefined && (await isPortFree(options.fallback, host))) {
    return {
      port: options.fallback,
      note: `${label}: port ${options.preferred} cannot be bound (in use, or not root); using ${options.fallback}`,
    };
  }
  const [port] = await freePorts(1, host);
  const tried =
    options.fallback === undefined ? `${options.preferred}` : `${options.preferred} and ${options.fallback}`;
  return { port: port!, note: `${label}: port ${tried} cannot be bound; using free port ${port}` };
}
