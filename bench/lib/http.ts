// The bench's requests (testkit's client, kept alive) straight at the service, timed, plus the
// statistics we print.
import { httpClient, type HttpResponse } from '../../testkit/http.ts';

/** Responses with a 5xx the service should never send (503 busy is the designed answer). */
export const unexpected5xx: string[] = [];

export interface BenchRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | object;
}

export interface BenchResponse extends HttpResponse {
  /** 503 busy: the hashing queue was full (the designed answer to a flood). */
  busy: boolean;
}

export interface BenchClient {
  send(request: BenchRequest): Promise<BenchResponse>;
  close(): Promise<void>;
}

export function createClient(port: number, { maxSockets = 16 } = {}): BenchClient {
  const client = httpClient({ origin: `http://127.0.0.1:${port}`, connections: maxSockets });
  return {
    async send({ method = 'GET', path, headers = {}, body }) {
      // As nginx forwards it: HTTPS at the edge, from the trusted loopback hop.
      const init = { method, headers: { 'x-forwarded-proto': 'https', ...headers } };
      const res = await client.send(path, typeof body === 'object' ? { ...init, json: body } : { ...init, body });
      const busy = res.status === 503 && /"error":"busy"/.test(res.body);
      if (res.status >= 500 && !busy)
        unexpected5xx.push(`${method} ${path} -> ${res.status} ${res.body.slice(0, 120)}`);
      return { ...res, busy };
    },
    close: () => client.close(),
  };
}

/** The session cookie ("name=value") a login answer set, if any. */
export function sessionCookie(res: BenchResponse): string | undefined {
  return res.cookie();
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const median = (values: number[]): number => percentile(values, 50);

/** A distinct client address per attempt (the bench is the trusted loopback hop: X-Forwarded-For is req.ip). */
export function clientIp(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}
