import { existsSync, readFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { isIP } from 'node:net';

export interface ProbeTarget {
  /** The public origin the request claims (Host header, TLS server name). */
  origin: string;
  /** Where to connect instead of resolving the origin's host. */
  connectHost: string;
  port: number;
  path: string;
  /** A CA file to verify the certificate with; without one the certificate is not checked. */
  caFile?: string;
  timeoutMs?: number;
}

/** The status code of one GET, or 0 when the connection or TLS failed (with the reason). */
export function probe(target: ProbeTarget): Promise<{ status: number; error?: string }> {
  const url = new URL(target.origin);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const verify = Boolean(target.caFile && existsSync(target.caFile));
  const options = {
    host: target.connectHost,
    port: target.port,
    path: target.path,
    headers: { host: url.host },
    timeout: target.timeoutMs ?? 3000,
    agent: false as const,
    servername: isIP(host) ? undefined : host,
    ca: verify ? [readFileSync(target.caFile!, 'utf8')] : undefined,
    rejectUnauthorized: verify,
  };
  return new Promise((resolve) => {
    const request = (url.protocol === 'https:' ? httpsGet : httpGet)(options, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0 });
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', (error) => resolve({ status: 0, error: error.message }));
  });
}
