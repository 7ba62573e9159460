import { httpClient, trustedCas as trusted, type HttpResponse } from '../../testkit/http.ts';
import { caFile, origin } from './stack.ts';

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Source address of the TCP connection, e.g. another loopback address. */
  localAddress?: string;
  /** 4 or 6 to pin the address family (needed with localAddress). */
  family?: 4 | 6;
}

export type Response = HttpResponse;

/** System roots plus the stack's CA: real certificates and the local CA both verify. */
export const trustedCas = trusted([caFile]);

/**
 * One request to the stack on a fresh connection, verifying the certificate against the system
 * roots plus the stack's CA (testkit/http.ts); a repeated header stays visible, not folded.
 */
export function request(path: string | URL, options: RequestOptions = {}): Promise<Response> {
  const { localAddress, family, ...init } = options;
  return httpClient({ origin, caFiles: [caFile], localAddress, family }).send(path, init);
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
