// A small keep-alive HTTP client that times each request, plus the statistics we print.
import { Agent, request as httpRequest } from 'node:http';
import { performance } from 'node:perf_hooks';

/** Responses with a 5xx the service should never send (503 busy is the designed answer). */
export const unexpected5xx = [];

export function createClient(port, { maxSockets = 16 } = {}) {
  const agent = new Agent({ keepAlive: true, maxSockets });
  const send = ({ method = 'GET', path, headers = {}, body }) =>
    new Promise((resolve, reject) => {
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
          const chunks = [];
          res.on('data', (chunk) => chunks.push(chunk));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const ms = performance.now() - started;
            const busy = res.statusCode === 503 && /"error":"busy"/.test(text);
            if (res.statusCode >= 500 && !busy) unexpected5xx.push(`${method} ${path} -> ${res.statusCode} ${text.slice(0, 120)}`);
            resolve({ status: res.statusCode, headers: res.headers, text, ms, busy });
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
export function sessionCookie(response) {
  const line = (response.headers['set-cookie'] ?? []).find((c) => c.startsWith('__Host-sid='));
  return line?.split(';')[0];
}

export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export const median = (values) => percentile(values, 50);

/** A distinct client address per attempt (trust proxy is 1: the last X-Forwarded-For entry is req.ip). */
export function clientIp(i) {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}
