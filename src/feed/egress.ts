// The way out to the carrier. The carrier answers only a whitelisted static address; a cluster gets
// one by sending its requests through a forward proxy (or an egress gateway) that owns it. One
// dispatcher per process, shared by the feed and the recordings: undefined when there is no proxy
// and no TLS setting of our own (undici's global one then). FEED_CA_FILE and a client certificate
// apply to the carrier's connections, direct or tunnelled through the proxy.
import { Agent, type Dispatcher, EnvHttpProxyAgent } from 'undici';
import type { EgressOptions } from '../config/accounts.ts';

export function egressDispatcher(egress: EgressOptions): Dispatcher | undefined {
  const tls = egress.tls
    ? {
        ...(egress.tls.ca ? { ca: egress.tls.ca } : {}),
        ...(egress.tls.cert ? { cert: egress.tls.cert, key: egress.tls.key } : {}),
      }
    : undefined;
  if (egress.httpProxy === undefined && egress.httpsProxy === undefined)
    return tls ? new Agent({ connect: tls }) : undefined;
  // Every field given (empty for none), so that undici never falls back to the environment: the
  // configuration is the only reader of it. `connect` for hosts in NO_PROXY, `requestTls` for the
  // carrier's TLS inside the proxy's tunnel.
  return new EnvHttpProxyAgent({
    httpProxy: egress.httpProxy ?? '',
    httpsProxy: egress.httpsProxy ?? '',
    noProxy: egress.noProxy ?? '',
    ...(tls ? { connect: tls, requestTls: tls } : {}),
  });
}
