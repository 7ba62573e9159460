import { existsSync, readFileSync } from 'node:fs';
import type { LookupAddress } from 'node:dns';
import { isIPv6, type LookupFunction } from 'node:net';
import { performance } from 'node:perf_hooks';
import { rootCertificates } from 'node:tls';
import { Agent, request } from 'undici';
import { COOKIE_NAMES } from '../service/src/config/config.ts';

/** One answer, read whole. */
export interface HttpResponse {
  status: number;
  body: string;
  /** Every value of a header, in order: a repeated header stays repeated, never folded. */
  all(name: string): string[];
  /** The single value of a header; throws when it is missing or repeated. */
  one(name: string): string;
  json<T = Record<string, unknown>>(): T;
  /** `name=value` of the cookie the answer sets under this name (default: the session cookie). */
  cookie(name?: string): string | undefined;
  /** Milliseconds from sending the request to the end of the body. */
  ms: number;
}

export interface RequestInit {
  method?: string;
  headers?: Record<string, string>;
  /** A JSON body (with its content type). */
  json?: unknown;
  body?: string;
}

export interface HttpClientOptions {
  /** Relative paths are resolved against it. */
  origin?: string;
  /** CA files (PEM) trusted besides the system roots; a file that does not exist is skipped. */
  caFiles?: readonly string[];
  /** Accept any certificate: readiness polls while a placeholder is served, never a test of TLS. */
  insecure?: boolean;
  /** The client's own address, e.g. 127.0.0.2: another client on loopback. */
  localAddress?: string;
  /** 4 or 6: resolve the host to this address family only (with localAddress, the one it is in). */
  family?: 4 | 6;
  /** Connect to this address instead of resolving the host; the name still goes in SNI and Host. */
  connectTo?: string;
  /** Connections to keep open per origin and reuse (keep-alive); 0: a new connection per request. */
  connections?: number;
  timeoutMs?: number;
}

export interface HttpClient {
  /** A property, not a method: `const { send } = httpClient(...)` is the usual way to hold it. */
  send: (target: string | URL, init?: RequestInit) => Promise<HttpResponse>;
  close: () => Promise<void>;
}

/**
 * The one HTTP(S) client of the tooling, tests, smoke tests and bench (undici): system roots
 * plus the stack's CA, optionally another local address or a fixed address to connect to, and
 * answers that keep every header as sent. Secrets go in bodies and headers, never on a command
 * line (curl -d would show a password in ps). `raw-http.ts` in the service tests stays separate:
 * it sends malformed bytes on purpose.
 */
/** The system roots plus the given CA files (PEM); a file that does not exist is skipped. */
export function trustedCas(caFiles: readonly string[] = []): string[] {
  return [...rootCertificates, ...caFiles.filter((file) => existsSync(file)).map((file) => readFileSync(file, 'utf8'))];
}

export function httpClient(options: HttpClientOptions = {}): HttpClient {
  const ca = trustedCas(options.caFiles);
  const { connectTo } = options;
  const family = connectTo && isIPv6(connectTo) ? 6 : 4;
  const lookup: LookupFunction | undefined = connectTo
    ? (_host, opts, done) =>
        (opts as { all?: boolean }).all
          ? (done as unknown as (err: null, all: LookupAddress[]) => void)(null, [{ address: connectTo, family }])
          : done(null, connectTo, family)
    : undefined;
  const timeout = options.timeoutMs ?? 30_000;
  const connections = options.connections ?? 0;
  const agent = () =>
    new Agent({
      connect: { ca, family: options.family, lookup, timeout, rejectUnauthorized: !options.insecure },
      // A client option in undici, not a connect one: set in `connect`, it is dropped.
      localAddress: options.localAddress,
      connections: connections || 1,
      headersTimeout: timeout,
      bodyTimeout: timeout,
    });
  const shared = connections > 0 ? agent() : undefined;

  return {
    async send(target, init = {}) {
      const url = new URL(target, options.origin);
      const headers: Record<string, string> = { ...init.headers };
      let body = init.body;
      if (init.json !== undefined) {
        body = JSON.stringify(init.json);
        headers['content-type'] ??= 'application/json';
      }
      const dispatcher = shared ?? agent();
      const started = performance.now();
      try {
        const res = await request(url, {
          dispatcher,
          method: (init.method ?? (body === undefined ? 'GET' : 'POST')) as 'GET',
          headers,
          body,
        });
        const text = await res.body.text();
        return answer(res.statusCode, res.headers, text, performance.now() - started);
      } finally {
        if (!shared) await dispatcher.close();
      }
    },
    async close() {
      await shared?.close();
    },
  };
}

function answer(
  status: number,
  headers: Record<string, string | string[] | undefined>,
  body: string,
  ms: number,
): HttpResponse {
  const all = (name: string): string[] => {
    const value = headers[name.toLowerCase()];
    return value === undefined ? [] : Array.isArray(value) ? value : [value];
  };
  return {
    status,
    body,
    ms,
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
        throw new Error(`expected a JSON body, got status ${status}: ${body.slice(0, 200)}`);
      }
    },
    cookie(name = COOKIE_NAMES.session.secure) {
      return all('set-cookie')
        .find((c) => c.startsWith(`${name}=`))
        ?.split(';')[0];
    },
  };
}

/** The status of one GET, or 0 with the reason when nothing answered (readiness polls). */
export async function probe(url: string, options: HttpClientOptions = {}): Promise<{ status: number; error?: string }> {
  try {
    return { status: (await httpClient({ timeoutMs: 3000, ...options }).send(url)).status };
  } catch (error) {
    return { status: 0, error: error instanceof Error ? error.message : String(error) };
  }
}

/** The URL with its port set (an origin's default port is left out of PUBLIC_ORIGIN). */
export function atPort(url: string, port: number): string {
  const withPort = new URL(url);
  withPort.port = String(port);
  return withPort.href;
}
