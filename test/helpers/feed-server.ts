// A feed written by hand for one test: a real HTTP server on port 0 answering every request with
// `body(fromid, request number)`, as the carrier's feed would (CSV, status 200).
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export async function feedServer(
  body: (fromId: number, request: number) => string,
  cleanups: Array<() => Promise<unknown>>,
): Promise<{ url: string; requests: () => number }> {
  let n = 0;
  const server = createServer((req, res) => {
    n++;
    const from = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('fromid'));
    res.writeHead(200, { 'content-type': 'text/csv' });
    res.end(body(from, n));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests: () => n };
}
