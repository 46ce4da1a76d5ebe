// A forward HTTP proxy for the local stack and the tests: the "whitelisted static IP" of the
// carrier's recordings, played on loopback. Every connection it makes to a server leaves from
// EGRESS_ADDRESS (127.0.0.2 by default), the address the simulator is told to allow, so a request
// that skipped the proxy arrives from 127.0.0.1 and is refused with 403. It speaks both forms a
// client uses: CONNECT host:port (a tunnel) and an absolute-form request (GET http://host/path).
// Each request is one log line with its method, host and path: never its query string, which
// carries the carrier's login and password.
//
//   node scripts/stack/egress-proxy.ts        (PROXY_PORT, PROXY_HOST, EGRESS_ADDRESS)

import { createServer, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { pipeline } from 'node:stream';

const host = process.env.PROXY_HOST ?? '127.0.0.1';
const port = Number(process.env.PROXY_PORT ?? '18888');
const egress = process.env.EGRESS_ADDRESS ?? '127.0.0.2';

const log = (fields: Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...fields })}\n`);

const server = createServer((req, res) => {
  let target: URL;
  try {
    target = new URL(req.url ?? '');
  } catch {
    res.writeHead(400).end('absolute-form request expected\n');
    return;
  }
  log({ method: req.method, host: target.host, path: target.pathname });
  const headers = { ...req.headers };
  delete headers['proxy-connection'];
  delete headers['proxy-authorization'];
  const upstream = httpRequest(
    {
      host: target.hostname,
      port: target.port || 80,
      path: `${target.pathname}${target.search}`,
      method: req.method,
      headers,
      localAddress: egress,
    },
    (answer) => {
      // The client may have gone (a producer stopped mid-request): nothing to pipe to, and
      // pipeline would throw and end this process.
      if (res.destroyed) {
        answer.destroy();
        return;
      }
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      // A body the server cuts short is cut short for the client too (pipe alone would leave it hanging).
      pipeline(answer, res, (err) => {
        if (err) res.destroy();
      });
    },
  );
  upstream.on('error', (err) => {
    log({ error: (err as NodeJS.ErrnoException).code ?? err.message, host: target.host });
    if (!res.headersSent) res.writeHead(502).end('bad gateway\n');
    else res.destroy();
  });
  req.pipe(upstream);
});

server.on('connect', (req, socket, head) => {
  const [h, p] = (req.url ?? '').split(':');
  log({ method: 'CONNECT', host: req.url });
  const upstream = connect({ host: h, port: Number(p ?? 443), localAddress: egress }, () => {
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length > 0) upstream.write(head);
    upstream.pipe(socket);
    socket.pipe(upstream);
  });
  const close = () => {
    upstream.destroy();
    socket.destroy();
  };
  upstream.on('error', (err) => {
    log({ error: (err as NodeJS.ErrnoException).code ?? err.message, host: req.url });
    if (socket.writable) socket.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
    close();
  });
  socket.on('error', close);
});

server.listen(port, host, () => log({ listening: `${host}:${port}`, egress }));
for (const signal of ['SIGTERM', 'SIGINT'] as const)
  process.on(signal, () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
