import { request as httpRequest } from 'node:http';

/**
 * Starts POST /api/login on 127.0.0.1:port with only half of `body` sent, so the request is in
 * flight (and its connection busy) until finish() sends the rest: what a shutdown must wait for.
 */
export function inFlightLogin(port: number, body: string) {
  const chunks: Buffer[] = [];
  const req = httpRequest({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: '/api/login',
    headers: {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(body),
      'X-Forwarded-Proto': 'https',
    },
  });
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
  });
  const half = Math.floor(body.length / 2);
  req.write(body.slice(0, half));
  return { response, finish: () => req.end(body.slice(half)) };
}
