import { describe, expect, it } from '@jest/globals';
import { isIP } from 'node:net';
import * as tls from 'node:tls';
import { request, trustedCas } from './support/http.ts';
import { baseUrl, httpsPort, plainHttpUrl } from './support/stack.ts';

const host = baseUrl.hostname.replace(/^\[|\]$/g, '');

interface Handshake {
  protocol: string | null;
  cipher: string;
  alpn: string | false | null;
  authorized: boolean;
  session: Buffer | undefined;
  ticket: Buffer | undefined;
  reused: boolean;
}

/** One TLS handshake with the edge; resolves with what was negotiated, rejects on failure. */
function handshake(options: tls.ConnectionOptions): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host,
      port: httpsPort,
      // SNI carries host names only, never addresses.
      servername: isIP(host) ? undefined : host,
      ca: trustedCas,
      ...options,
    });
    socket.setTimeout(10000, () => socket.destroy(new Error('handshake timeout')));
    socket.once('error', reject);
    socket.once('secureConnect', () => {
      // TLS 1.2 sessions are known at handshake time; give a TLS 1.3 NewSessionTicket a moment.
      setTimeout(() => {
        const result: Handshake = {
          protocol: socket.getProtocol(),
          cipher: socket.getCipher().name,
          alpn: socket.alpnProtocol,
          authorized: socket.authorized,
          session: socket.getSession(),
          ticket: socket.getTLSTicket(),
          reused: socket.isSessionReused(),
        };
        socket.end();
        resolve(result);
      }, 100);
    });
  });
}

describe('TLS at the edge', () => {
  it.each([
    ['TLSv1.2', /^ECDHE-(ECDSA|RSA)-(AES128-GCM-SHA256|AES256-GCM-SHA384|CHACHA20-POLY1305)$/],
    ['TLSv1.3', /^TLS_(AES_128_GCM_SHA256|AES_256_GCM_SHA384|CHACHA20_POLY1305_SHA256)$/],
  ] as const)(
    'when a client offers only %s, then the handshake succeeds with a forward-secret AEAD suite',
    async (version, suite) => {
      const result = await handshake({ minVersion: version, maxVersion: version });

      expect(result.protocol).toBe(version);
      expect(result.cipher).toMatch(suite);
      expect(result.authorized).toBe(true);
    },
  );

  // SECLEVEL=0 lets this client's OpenSSL offer the old protocols at all, so the failure we
  // assert is the server's protocol_version alert, not the client refusing to try.
  it.each(['TLSv1', 'TLSv1.1'] as const)(
    'when a client offers only %s, then the server refuses it with a protocol_version alert',
    async (version) => {
      const attempt = handshake({ minVersion: version, maxVersion: version, ciphers: 'DEFAULT@SECLEVEL=0' });

      await expect(attempt).rejects.toMatchObject({ code: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' });
    },
  );

  it('when a TLS 1.2 client offers only CBC suites, then the server refuses with a handshake_failure alert', async () => {
    const attempt = handshake({
      maxVersion: 'TLSv1.2',
      ciphers: 'ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA',
    });

    // The alert's name differs between OpenSSL versions (SSLV3_ / SSL/TLS_ prefix).
    await expect(attempt).rejects.toMatchObject({ code: expect.stringMatching(/^ERR_SSL_.*ALERT_HANDSHAKE_FAILURE$/) });
  });

  it('when a client offers h2 and http/1.1 via ALPN, then HTTP/2 is chosen', async () => {
    const result = await handshake({ ALPNProtocols: ['h2', 'http/1.1'] });

    expect(result.alpn).toBe('h2');
  });

  it('when a TLS 1.2 client reconnects with its session, then the shared cache resumes it and no session ticket is issued', async () => {
    const first = await handshake({ maxVersion: 'TLSv1.2' });

    const second = await handshake({ maxVersion: 'TLSv1.2', session: first.session });

    expect(first.ticket).toBeUndefined();
    expect(second.reused).toBe(true);
  });
});

describe('plain HTTP', () => {
  it('when plain HTTP is requested, then 301 to the same path and query on the HTTPS origin', async () => {
    const url = new URL('/login?next=%2Fsessions', plainHttpUrl());

    const response = await request(url);

    expect(response.status).toBe(301);
    expect(response.one('location')).toBe(`${baseUrl.origin}/login?next=%2Fsessions`);
  });

  it('when an ACME challenge is requested over plain HTTP, then it is answered there, not redirected', async () => {
    const url = new URL('/.well-known/acme-challenge/smoke-missing-token', plainHttpUrl());

    const response = await request(url);

    // No such token file: 404 from the challenge directory, where every other path gets 301.
    expect(response.status).toBe(404);
    expect(response.all('location')).toEqual([]);
  });
});
