// /healthz (the process is alive and its loops are running), /readyz (a readiness check the
// component supplies), /metrics (Prometheus text). Shared by every long-running command.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface Check {
  ok: boolean;
  details: Record<string, unknown>;
}

export interface OpsServerOptions {
  host: string;
  port: number;
  registry: Registry;
  live: () => Check;
  ready: () => Promise<Check>;
}

export interface OpsServer {
  port: number;
  close(): Promise<void>;
}

export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = (check: Check) => {
      res.writeHead(check.ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: check.ok ? 'ok' : 'unavailable', ...check.details }));
    };
    if (path === '/healthz') return reply(options.live());
    if (path === '/readyz') {
      options.ready().then(reply, () => reply({ ok: false, details: { error: 'readiness check failed' } }));
      return;
    }
    if (path === '/metrics') {
      options.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': options.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  server.listen(options.port, options.host);
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
