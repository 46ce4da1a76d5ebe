// Many accounts in one producer: at most FEED_MAX_CONCURRENT_POLLS requests in flight to the feed,
// and an account whose body stalls, or whose login the feed refuses, does not hold the others back.
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../helpers/cleanups.ts';
import { metricValue, producerEnv, startTestProducer, waitFor } from '../helpers/producer.ts';
import { startTestSimulator } from '../helpers/simulator.ts';

const cleanups = cleanupAfterEach();

const ACCOUNTS = Array.from({ length: 6 }, (_, i) => ({
  login: `5100${i}`,
  password: `pw-5100${i}-secret`,
  firstId: 1 + i * 1_000_000,
}));

describe('producer: many accounts, bounded polls', () => {
  it('keeps at most FEED_MAX_CONCURRENT_POLLS requests in flight; a stalled body and a 401 hold no one back', async () => {
    const rows = 600;
    const s = await startTestSimulator({ historyRows: rows, accounts: ACCOUNTS.map((a) => ({ ...a })) });
    cleanups.push(() => s.close());
    const slow = ACCOUNTS[0] as (typeof ACCOUNTS)[0];
    const refused = ACCOUNTS[1] as (typeof ACCOUNTS)[0];
    let inFlight = 0;
    let most = 0;
    let stalled = 0;
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    // In front of the simulator: every response takes 100 ms; the slow account's first response
    // sends its header and stops until the test lets it go on; the refused account gets 401.
    const server = createServer((req, res) => {
      inFlight++;
      most = Math.max(most, inFlight);
      res.on('close', () => {
        inFlight--;
      });
      const login = new URL(req.url ?? '/', 'http://x').searchParams.get('login');
      if (login === refused.login) {
        res.writeHead(401);
        res.end('no');
        return;
      }
      void fetch(`${s.url}${req.url}`).then(async (upstream) => {
        const text = await upstream.text();
        // A feed that answers slowly: requests overlap, which is what the limit is about.
        await new Promise((resolve) => setTimeout(resolve, 100));
        res.writeHead(upstream.status, { 'content-type': 'text/csv' });
        if (login === slow.login && stalled < 1) {
          stalled++;
          const headerEnd = text.indexOf('\n') + 1;
          res.write(text.slice(0, headerEnd));
          await released;
          res.end(text.slice(headerEnd));
          return;
        }
        res.end(text);
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const file = join(mkdtempSync(join(tmpdir(), 'polls-')), 'accounts.json');
    writeFileSync(file, JSON.stringify(ACCOUNTS.map((a) => ({ login: a.login, password: a.password }))));
    const env = producerEnv(
      `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      ACCOUNTS[0] as never,
      {
        FEED_ACCOUNTS_FILE: file,
        FEED_LOGIN: '',
        FEED_MAX_CONCURRENT_POLLS: '2',
        // Six accounts on two producers: the slow and the refused account share theirs with others.
        PRODUCER_POOL_SIZE: '2',
        FEED_POLL_INTERVAL_MS: '300',
        FEED_AUTH_RETRY_MS: '1000',
      },
    );
    const { producer } = await startTestProducer(env);
    cleanups.push(() => producer.stop());
    const cursor = async (a: (typeof ACCOUNTS)[0]) =>
      (await metricValue(producer.ops.port, 'cdr_cursor_id', { account: a.login })) ?? -1;
    const others = ACCOUNTS.filter((a) => a !== slow && a !== refused);
    cleanups.push(async () => release());
    // While the slow account's body stalls, the others get through all their rows.
    await waitFor(
      'the other accounts at their last id',
      async () => {
        for (const a of others) if ((await cursor(a)) !== a.firstId + rows - 1) return undefined;
        return true;
      },
      30_000,
    );
    expect(stalled).toBe(1);
    expect(await cursor(slow)).toBeLessThan(slow.firstId);
    release();
    // Then the slow account too; the refused one publishes nothing and keeps being refused politely.
    await waitFor('the slow account at its last id', async () =>
      (await cursor(slow)) === slow.firstId + rows - 1 ? true : undefined,
    );
    expect(
      await metricValue(producer.ops.port, 'cdr_rows_published_total', { account: refused.login }),
    ).toBeFalsy();
    expect(most).toBeGreaterThanOrEqual(2);
    expect(most).toBeLessThanOrEqual(2);
  });
});
