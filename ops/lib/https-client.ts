import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';

export interface HttpsResponse {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
  json<T = Record<string, unknown>>(): T;
  /** `name=value` of the Set-Cookie with this name (default: the session cookie), or undefined. */
  cookie(name?: string): string | undefined;
}

/**
 * A small HTTPS client for the tooling's end-to-end checks (CI flows, drills): one request per
 * connection, the system roots plus a local CA, JSON bodies sent on stdin-like request bodies,
 * never on a command line (curl -d would show a password in ps).
 */
export function httpsClient(
  options: { caFile?: string; timeoutMs?: number; /** The client's own address (127.0.0.2: another client on loopback). */ localAddress?: string } = {},
) {
  const ca = [...rootCertificates, ...(options.caFile ? [readFileSync(options.caFile, 'utf8')] : [])];
  return function send(url: string, init: { method?: string; headers?: Record<string, string>; json?: unknown } = {}): Promise<HttpsResponse> {
    const body = init.json === undefined ? undefined : JSON.stringify(init.json);
    const headers: Record<string, string> = { ...init.headers };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        url,
        { method: init.method ?? (body ? 'POST' : 'GET'), headers, ca, agent: false, timeout: options.timeoutMs ?? 10_000, localAddress: options.localAddress },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({
              status: res.statusCode ?? 0,
              body: text,
              headers: res.headers,
              json<T>() {
                return JSON.parse(text) as T;
              },
              cookie(name = '__Host-sid') {
                return res.headers['set-cookie']?.find((c) => c.startsWith(`${name}=`))?.split(';')[0];
              },
            });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
      req.on('error', reject);
      req.end(body);
    });
  };
}
