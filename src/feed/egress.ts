// The way out to the carrier. The carrier answers only a whitelisted static address; a cluster gets
// one by sending its requests through a forward proxy (or an egress gateway) that owns it. One
// dispatcher per process, shared by the feed and the recordings: undefined when there is no proxy.
import { type Dispatcher, EnvHttpProxyAgent } from 'undici';
import type { EgressOptions } from '../config/accounts.ts';

export function egressDispatcher(egress: EgressOptions): Dispatcher | undefined {
  if (egress.httpProxy === undefined && egress.httpsProxy === undefined) return undefined;
  // Every field given (empty for none), so that undici never falls back to the environment: the
  // configuration is the only reader of it.
  return new EnvHttpProxyAgent({
    httpProxy: egress.httpProxy ?? '',
    httpsProxy: egress.httpsProxy ?? '',
    noProxy: egress.noProxy ?? '',
  });
}
