// The feed through the egress proxy (the whitelisted static IP of a real deployment): with
// FEED_PROXY_URL every feed request of the producer goes through the stack's real proxy process, and
// none with the simulator's host in NO_PROXY. The proxy logs host and path only: never the query
// string that carries the login and password.
import { readFileSync } from 'node:fs';
import { describe, expect, inject, it } from 'vitest';
import { PROXY_LOG } from '../../scripts/stack/proxy.ts';
import type { RunningSimulator } from '../../src/simulator/index.ts';
import { cleanupAfterEach } from '../helpers/cleanups.ts';
import { cursorAt, producerEnv, startTestProducer } from '../helpers/producer.ts';
import { SIM_ACCOUNTS, startTestSimulator } from '../helpers/simulator.ts';

const A = SIM_ACCOUNTS[0] as (typeof SIM_ACCOUNTS)[0];
const ROWS = 500;
const cleanups = cleanupAfterEach();

/** Feed requests the proxy logged for the simulator on `port`, from line `from` on. */
function proxiedFeedLines(port: number, from: number): string[] {
  return readFileSync(PROXY_LOG, 'utf8')
    .split('\n')
    .slice(from)
    .filter((l) => l.includes(`127.0.0.1:${port}`) && l.includes('/billing/feed'));
}

/** The addresses the simulator's answered feed requests came from. */
const remotes = (sim: RunningSimulator) => [...new Set(sim.stats.log.map((r) => r.remote))];

async function runThrough(extra: Record<string, string>) {
  const sim = await startTestSimulator({ historyRows: ROWS });
  cleanups.push(() => sim.close());
  const before = readFileSync(PROXY_LOG, 'utf8').split('\n').length - 1;
  const { producer } = await startTestProducer(producerEnv(sim.url, A, extra));
  cleanups.push(() => producer.stop());
  await cursorAt(producer.ops.port, A.login, A.firstId + ROWS - 1, 60_000);
  await producer.stop();
  return { sim, lines: proxiedFeedLines(sim.port, before) };
}

describe('the feed through the egress proxy', () => {
  it('sends every feed request through FEED_PROXY_URL, the credentials never in the proxy log', async () => {
    const { sim, lines } = await runThrough({ FEED_PROXY_URL: inject('proxyUrl') });
    // Every request the feed answered came from the proxy's egress address, and the proxy saw them.
    expect(remotes(sim)).toEqual(['127.0.0.2']);
    expect(lines.length).toBeGreaterThanOrEqual(sim.stats.log.length);
    for (const line of lines) {
      expect(line).not.toContain(A.password);
      expect(line).not.toContain('password');
    }
  });

  it('takes the standard HTTP_PROXY too, and goes direct to a host in NO_PROXY', async () => {
    const proxied = await runThrough({ HTTP_PROXY: inject('proxyUrl') });
    expect(remotes(proxied.sim)).toEqual(['127.0.0.2']);
    expect(proxied.lines.length).toBeGreaterThan(0);
    const direct = await runThrough({ HTTP_PROXY: inject('proxyUrl'), NO_PROXY: '127.0.0.1' });
    expect(remotes(direct.sim)).toEqual(['127.0.0.1']);
    expect(direct.lines).toEqual([]);
  });
});
