import { existsSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as tls from 'node:tls';
import { caFile, origin } from './stack.ts';

/** System roots plus the stack's CA: real certificates and the local CA both verify. */
export const trustedCas: string[] = [...tls.rootCertificates, ...(existsSync(caFile) ? [readFileSync(caFile, 'utf8')] : [])];

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Source address of the TCP connection, e.g. another loopback address. */
  localAddress?: string;
  /** 4 or 6 to pin the address family (needed with localAddress). */
  family?: 4 | 6;
}

export interface Response {
  status: number;
  body: string;
  /** Every value of a header, in order, case-insensitive (duplicates stay separate). */
  all(name: string): string[];
  /** The single value of a header; fails the test when it is missing or repeated. */
  one(name: string): string;
  json<T = Record<string, unknown>>(): T;
  /** The client-side address of the connection that carried the request. */
  localAddress: string;
}

/**
 * One request on a fresh connection (no agent, no keepalive), verifying the certificate against
 * trustedCas. Raw headers are kept, so a duplicated header is visible, not folded by Node.
 */
export function request(path: string | URL, options: RequestOptions = {}): Promise<Response> {
  const url = new URL(path, origin);
  const client = url.protocol === 'https:' ? https : http;
  const headers: Record<string, string> = { ...options.headers };
  if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body));
  return new Promise((resolvePromise, reject) => {
    const req = client.request(
      url,
      {
        method: options.method ?? 'GET',
        headers,
        agent: false,
        ca: trustedCas,
        localAddress: options.localAddress,
        family: options.family,
        timeout: 30000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        const localAddress = res.socket.localAddress ?? '';
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          const raw = res.rawHeaders;
          const all = (name: string): string[] => {
            const values: string[] = [];
            for (let i = 0; i < raw.length; i += 2) {
              if (raw[i]!.toLowerCase() === name.toLowerCase()) values.push(raw[i + 1]!);
            }
            return values;
          };
          resolvePromise({
            status: res.statusCode ?? 0,
            body,
            all,
            one(name) {
              const values = all(name);
              if (values.length !== 1) throw new Error(`expected exactly one ${name} header, got ${JSON.stringify(values)}`);
              return values[0]!;
            },
            json<T>() {
              try {
                return JSON.parse(body) as T;
              } catch {
                throw new Error(`expected a JSON body, got status ${res.statusCode}: ${body.slice(0, 200)}`);
              }
            },
            localAddress,
          });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url.href}`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** A JSON POST as a same-origin browser would send it (Origin = the public origin). */
export function postJson(path: string, payload: unknown, options: RequestOptions = {}): Promise<Response> {
  return request(path, {
    ...options,
    method: 'POST',
    headers: { 'content-type': 'application/json', origin, ...options.headers },
    body: JSON.stringify(payload),
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));
