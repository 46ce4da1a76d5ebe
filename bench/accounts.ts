// Many accounts in one producer (issue #13): `./dev bench accounts [accounts] [rows]`. The feed
// simulator (in this process) serves N accounts of H rows of history; one producer process (the
// built CLI, the image's Node flags) polls them all. Measured: time from start until every
// account's cursor is at its last id, peak RSS while catching up (/proc VmHWM), the most RSS
// afterwards while every account keeps polling (VmRSS, for STEADY_MS), the most TCP connections the
// process had open to the broker (/proc/<pid>/net/tcp), and error-level log lines.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { SERVICE_ENV, SERVICE_NODE_FLAGS } from '../scripts/node-flags.ts';
import { ADDRESSES, up } from '../scripts/stack/index.ts';
import { LOCAL, ROOT, STACK_KAFKA } from '../scripts/stack/paths.ts';
import { startSimulator } from '../src/simulator/index.ts';
import { watchPeakRss } from './peak-rss.ts';
import { producerRunEnv } from './producer.ts';

/** Open TCP connections of `pid` to `port` on 127.0.0.1 (its sockets, matched in /proc/net/tcp). */
function brokerConnections(pid: number, port: number): number {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const link = (() => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          return '';
        }
      })();
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m) inodes.add(m[1] as string);
    }
    const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
    let n = 0;
    for (const line of readFileSync(`/proc/${pid}/net/tcp`, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // remote address, state 01 = ESTABLISHED, inode
      if (cols[2]?.endsWith(`:${hexPort}`) && cols[3] === '01' && inodes.has(cols[9] as string)) n++;
    }
    return n;
  } catch {
    return 0;
  }
}

/** How long the process is watched after it has caught up. */
const STEADY_MS = 20_000;

export async function benchAccounts(accounts: number, rows: number) {
  await up([STACK_KAFKA, 'registry']);
  const list = Array.from({ length: accounts }, (_, i) => ({
    login: `7${String(i).padStart(5, '0')}`,
    password: `pw-${i}`,
    firstId: 1 + i * 10_000_000,
  }));
  const sim = await startSimulator(
    {
      host: '127.0.0.1',
      port: 0,
      seed: 3,
      timeZone: 'Australia/Sydney',
      epochMs: Date.UTC(2026, 10, 1),
      historyRows: rows,
      historySpacingMs: 60_000,
      growthPerSecond: 0,
      unknownShare: 0.02,
      malformedShare: 0,
      accounts: list,
      bom: false,
      eol: '\n',
      faults: { latencyMs: 0, rules: [] },
    },
    pino({ level: 'silent' }),
  );
  const run = `bench-acc-${Date.now()}`;
  mkdirSync(`${LOCAL}/bench`, { recursive: true });
  const file = `${LOCAL}/bench/${run}-accounts.json`;
  writeFileSync(file, JSON.stringify(list.map(({ login, password }) => ({ login, password }))));
  const started = Date.now();
  const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, `${ROOT}/dist/cli.js`, 'produce'], {
    env: {
      ...process.env,
      ...SERVICE_ENV,
      FEED_URL: sim.url,
      FEED_ACCOUNTS_FILE: file,
      // Caught up, every account polls again every 2 s (the feed has nothing new for them).
      FEED_POLL_INTERVAL_MS: '2000',
      ...producerRunEnv(run),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const rss = watchPeakRss(child.pid);
  // Connections to the first broker (the only one with STACK_BROKERS=1).
  const brokerPort = Number(ADDRESSES.brokers.split(',')[0]?.split(':').pop());
  let connections = 0;
  const sampler = setInterval(() => {
    connections = Math.max(connections, brokerConnections(child.pid as number, brokerPort));
  }, 250);
  let errors = 0;
  const samples: string[] = [];
  const done = new Set<string>();
  const last = new Map(list.map((a) => [a.login, a.firstId + rows - 1]));
  const finished = new Promise<void>((resolve, reject) => {
    const onLine = (line: string) => {
      let e: { level?: number; msg?: string; account?: string; cursor?: number };
      try {
        e = JSON.parse(line);
      } catch {
        return;
      }
      if ((e.level ?? 0) >= 50) {
        errors++;
        if (samples.length < 3) samples.push(line.slice(0, 300));
      }
      if (e.msg === 'poll committed' && e.account && e.cursor === last.get(e.account)) done.add(e.account);
      if (done.size === accounts) resolve();
    };
    createInterface({ input: child.stdout }).on('line', onLine);
    createInterface({ input: child.stderr }).on('line', onLine);
    child.on('exit', (code) => reject(new Error(`producer exited with ${code}`)));
  });
  const timeout = setTimeout(() => child.kill('SIGTERM'), 600_000);
  await finished;
  const seconds = (Date.now() - started) / 1000;
  const catchUpPeak = rss.stop();
  const steady = watchPeakRss(child.pid, 'VmRSS');
  await new Promise((resolve) => setTimeout(resolve, STEADY_MS));
  const steadyPeak = steady.stop();
  clearTimeout(timeout);
  clearInterval(sampler);
  child.kill('SIGTERM');
  await once(child, 'exit');
  await sim.close();
  return {
    accounts,
    rows,
    seconds,
    peakRssMiB: catchUpPeak,
    steadyRssMiB: steadyPeak,
    steadySeconds: STEADY_MS / 1000,
    brokerConnections: connections,
    errorLines: errors,
    samples,
  };
}
