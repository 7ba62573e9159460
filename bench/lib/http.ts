// A small keep-alive HTTP client that times each request, plus the statistics we print.
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';

/** Responses with a 5xx the service should never send (503 busy is the designed answer). */
export const unexpected5xx: string[] = [];

export interface BenchRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | object;
}

export interface BenchResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  ms: number;
  busy: boolean;
}

export interface BenchClient {
  send(request: BenchRequest): Promise<BenchResponse>;
  close(): void;
}

export function createClient(port: number, { maxSockets = 16 } = {}): BenchClient {
  const agent = new Agent({ keepAlive: true, maxSockets });
  const send = ({ method = 'GET', path, headers = {}, body }: BenchRequest) =>
    new Promise<BenchResponse>((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
      const started = performance.now();
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          method,
          path,
          agent,
          // As nginx forwards it: HTTPS at the edge, from the trusted loopback hop.
          headers: {
            'X-Forwarded-Proto': 'https',
            ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {}),
            ...headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const ms = performance.now() - started;
            const status = res.statusCode ?? 0;
            const busy = status === 503 && /"error":"busy"/.test(text);
            if (status >= 500 && !busy) unexpected5xx.push(`${method} ${path} -> ${status} ${text.slice(0, 120)}`);
            resolve({ status, headers: res.headers, text, ms, busy });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  return { send, close: () => agent.destroy() };
}

/** The session cookie ("name=value") a login answer set, if any. */
export function sessionCookie(res: BenchResponse): string | undefined {
  return res.headers['set-cookie']?.find((c) => c.startsWith('__Host-sid='))?.split(';')[0];
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
