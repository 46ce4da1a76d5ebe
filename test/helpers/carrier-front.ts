// The carrier as production shows it, in front of the simulator: HTTPS with a private CA (and a
// client certificate asked for), bodies sent gzip- or deflate-encoded, or a decompression bomb.
// Real servers on loopback; the certificates are made here with openssl for each run, never kept.
import { once } from 'node:events';
import { mkdtempSync, readFileSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  request,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream';
import { createDeflate, createGzip, gzipSync } from 'node:zlib';
import { opensslIn } from '../../scripts/stack/tls.ts';

export interface Certs {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A CA that signed nothing here: the wrong one to trust. */
  otherCa: string;
}

/** A private CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files. */
export function makeCerts(): Certs {
  const dir = mkdtempSync(join(tmpdir(), 'cdr-certs-'));
  const certs = opensslIn(dir, 2);
  certs.ca('ca', 'test-carrier-ca');
  certs.ca('other', 'other-ca');
  certs.leaf('server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1\n');
  certs.leaf('client', 'cdr-pipeline', 'extendedKeyUsage=clientAuth\n');
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client.key'),
    otherCa: join(dir, 'other.pem'),
  };
}

export interface FrontOptions {
  /** The simulator's base URL. */
  target: string;
  tls?: { certs: Certs; requireClientCert?: boolean };
  encoding?: 'gzip' | 'deflate';
  /** Every feed answer: a gzip body that inflates to `bytes` of one letter after `header`. */
  bomb?: { header: string; bytes: number };
}

export interface Front {
  url: string;
  requests: number;
  /** Answers sent compressed (the client asked for the encoding). */
  compressed: number;
  close(): Promise<void>;
}

export async function startCarrierFront(options: FrontOptions): Promise<Front> {
  const state = { requests: 0, compressed: 0 };
  const bomb = options.bomb
    ? gzipSync(Buffer.concat([Buffer.from(options.bomb.header), Buffer.alloc(options.bomb.bytes, 'a')]))
    : undefined;
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    state.requests += 1;
    if (bomb) {
      res.writeHead(200, { 'content-type': 'text/csv', 'content-encoding': 'gzip' }).end(bomb);
      return;
    }
    const upstream = request(`${options.target}${req.url}`, { method: req.method }, (answer) => {
      // The client may have gone (a producer stopped mid-request): nothing to pipe to.
      if (res.destroyed) {
        answer.destroy();
        return;
      }
      const headers = { ...answer.headers };
      const accepts = String(req.headers['accept-encoding'] ?? '');
      if (!options.encoding || !accepts.includes(options.encoding)) {
        res.writeHead(answer.statusCode ?? 502, headers);
        pipeline(answer, res, () => undefined);
        return;
      }
      delete headers['content-length'];
      headers['content-encoding'] = options.encoding;
      state.compressed += 1;
      res.writeHead(answer.statusCode ?? 502, headers);
      pipeline(answer, options.encoding === 'gzip' ? createGzip() : createDeflate(), res, () => undefined);
    });
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    upstream.end();
  };
  const server = options.tls
    ? createHttpsServer(
        {
          cert: readFileSync(options.tls.certs.serverCert),
          key: readFileSync(options.tls.certs.serverKey),
          ...(options.tls.requireClientCert
            ? { requestCert: true, rejectUnauthorized: true, ca: readFileSync(options.tls.certs.ca) }
            : {}),
        },
        handle,
      )
    : createHttpServer(handle);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    get requests() {
      return state.requests;
    },
    get compressed() {
      return state.compressed;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
