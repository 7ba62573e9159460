import { connect } from 'node:net';

/** Raw HTTP/1.1 over a socket: the fuzz suite's client (see generators.ts for the overview). */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export interface SendOptions {
  /** HEAD: the answer has a Content-Length but no body. */
  head?: boolean;
  /** Half-close after writing (a truncated body then ends instead of waiting). */
  halfClose?: boolean;
  timeoutMs?: number;
}

/** Writes `bytes` to 127.0.0.1:port and resolves with the first final (non-1xx) response. */
export function sendRaw(port: number, bytes: Buffer, options: SendOptions = {}): Promise<RawResponse> {
  const { head = false, halfClose = false, timeoutMs = 10_000 } = options;
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let buffer = Buffer.alloc(0);
    let settled = false;
    const finish = (error: Error | undefined, response?: RawResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(response!);
    };
    const timer = setTimeout(() => finish(new Error(`no complete response within ${timeoutMs} ms`)), timeoutMs);
    const tryParse = (closed: boolean) => {
      for (;;) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0)
          return closed
            ? finish(
                new Error(
                  `connection closed without a response (${buffer.length} bytes: ${JSON.stringify(buffer.toString('latin1').slice(0, 80))})`,
                ),
              )
            : undefined;
        const lines = buffer.subarray(0, end).toString('latin1').split('\r\n');
        const match = /^HTTP\/\d\.\d (\d{3})/.exec(lines[0] ?? '');
        if (!match) return finish(new Error(`unparseable status line: ${JSON.stringify(lines[0])}`));
        const status = Number(match[1]);
        const rest = buffer.subarray(end + 4);
        if (status >= 100 && status < 200) {
          buffer = rest; // interim (100 Continue): the final answer follows
          continue;
        }
        const headers: Record<string, string> = {};
        for (const line of lines.slice(1)) {
          const colon = line.indexOf(':');
          if (colon <= 0) continue;
          const name = line.slice(0, colon).trim().toLowerCase();
          const value = line.slice(colon + 1).trim();
          headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
        }
        if (head || status === 204 || status === 304)
          return finish(undefined, { status, headers, body: Buffer.alloc(0) });
        if (headers['content-length'] !== undefined) {
          const length = Number(headers['content-length']);
          if (rest.length >= length) return finish(undefined, { status, headers, body: rest.subarray(0, length) });
          return closed ? finish(new Error(`body truncated: ${rest.length}/${length} bytes`)) : undefined;
        }
        if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
          const body = dechunk(rest);
          if (body) return finish(undefined, { status, headers, body });
          return closed ? finish(new Error('chunked body truncated')) : undefined;
        }
        return closed ? finish(undefined, { status, headers, body: rest }) : undefined;
      }
    };
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      tryParse(false);
    });
    socket.on('end', () => tryParse(true));
    socket.on('close', () => tryParse(true));
    // A reset after the server answered is fine (it may close mid-upload); before, it is not.
    socket.on('error', () => tryParse(true));
    socket.write(bytes, () => {
      if (halfClose) socket.end();
    });
  });
}

/** The decoded body once the terminating chunk has arrived, else undefined. */
function dechunk(data: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', offset);
    if (lineEnd < 0) return undefined;
    const size = parseInt(data.subarray(offset, lineEnd).toString('latin1'), 16);
    if (Number.isNaN(size)) return Buffer.concat(parts);
    if (size === 0) return Buffer.concat(parts);
    if (data.length < lineEnd + 2 + size + 2) return undefined;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
}

// ---------------------------------------------------------------------------------------
// Plans
