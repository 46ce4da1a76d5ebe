// The stack's forward proxy (egress-proxy.ts), started as its own process: the carrier's
// whitelisted egress address (EGRESS_ADDRESS 127.0.0.2) on loopback.
import { LOCAL, PORTS, ROOT } from './paths.ts';
import { type Started, startDetached } from './processes.ts';

export const EGRESS_ADDRESS = '127.0.0.2';
export const PROXY_LOG = `${LOCAL}/proxy/proxy.log`;

export function startProxy(): Started {
  return startDetached(process.execPath, [`${ROOT}/scripts/stack/egress-proxy.ts`], PROXY_LOG, {
    ...process.env,
    PROXY_HOST: '127.0.0.1',
    PROXY_PORT: String(PORTS.proxy),
    EGRESS_ADDRESS,
  });
}

export async function proxyReady(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}
