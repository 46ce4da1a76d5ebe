// `./dev start` (npm start): the main job on this machine. Brings up the local stack (Kafka,
// registry, S3 server, egress proxy, feed simulator), runs the producer against the simulator's two
// accounts, two enrichers and the recordings stage (the carrier reached through the proxy, which
// owns the whitelisted address the simulator's recordings allow), and prints a
// progress line every few seconds until Ctrl-C. Any variable of docs/configuration.md set in the environment
// wins over the local defaults here (point FEED_URL at a real feed, for example).
// The simulator speaks the carrier's 17-column layout (its MP3 column names the recordings);
// STACK_FEED_LAYOUT=contract runs the whole pipeline on the contract's layout (no recordings).
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { prettyFactory } from 'pino-pretty';
import { PRETTY_OPTIONS } from '../src/ops/logger.ts';
import { RECORDINGS_NODE_FLAGS, SERVICE_ENV, SERVICE_NODE_FLAGS } from './node-flags.ts';
import { ADDRESSES, down, up } from './stack/index.ts';
import { LOCAL, ROOT, stackBrokers } from './stack/paths.ts';
import { S3_LOCAL_CREDENTIALS } from './stack/s3.ts';
import { demoAccounts, runningLayout, wantedLayout } from './stack/simulator.ts';

const PROGRESS_MS = 5000;

async function main(): Promise<void> {
  console.log('starting the local stack (first run downloads Kafka and the registry: a few minutes)...');
  // A simulator left running with the other layout is restarted with the one asked for.
  if (runningLayout() !== wantedLayout()) await down(['simulator']).catch(() => undefined);
  await up(undefined, (line) => console.log(`  ${line}`));
  console.log(`  feed layout: ${wantedLayout()} (STACK_FEED_LAYOUT=contract|legacy17)`);
  console.log(`  Kafka ${ADDRESSES.brokers} | registry ${ADDRESSES.registry} | feed ${ADDRESSES.simulator}`);

  mkdirSync(`${LOCAL}/run`, { recursive: true });
  const accountsFile = `${LOCAL}/run/simulator-accounts.json`;
  // The simulator's demo accounts; a real deployment mounts this file from a Secret.
  writeFileSync(
    accountsFile,
    JSON.stringify(demoAccounts(wantedLayout()).map(({ login, password }) => ({ login, password }))),
    {
      mode: 0o600,
    },
  );
  const httpPort = process.env.HTTP_PORT ?? '9464';
  const env: NodeJS.ProcessEnv = {
    ...SERVICE_ENV,
    FEED_URL: ADDRESSES.simulator,
    FEED_ACCOUNTS_FILE: accountsFile,
    KAFKA_BROKERS: ADDRESSES.brokers,
    SCHEMA_REGISTRY_URL: ADDRESSES.registry,
    // Every partition on all three nodes of a STACK_BROKERS=3 cluster (min.insync.replicas 2).
    TOPIC_REPLICATION_FACTOR: stackBrokers() === 3 ? '3' : '1',
    HTTP_HOST: '127.0.0.1',
    LOG_PROGRESS: 'false',
    // The carrier (feed and recordings) through the egress proxy, as a cluster reaches it.
    FEED_PROXY_URL: ADDRESSES.proxy,
    RECORDINGS_URL: `${ADDRESSES.simulator}/recordings/`,
    S3_ENDPOINT: ADDRESSES.s3,
    S3_PATH_STYLE: 'true',
    S3_BUCKET: 'cdr-recordings',
    S3_CREATE_BUCKET: 'true',
    S3_ACCESS_KEY_ID: S3_LOCAL_CREDENTIALS.accessKeyId,
    S3_SECRET_ACCESS_KEY: S3_LOCAL_CREDENTIALS.secretAccessKey,
    ...process.env,
    // JSON into the log files; this script formats what it shows.
    LOG_FORMAT: 'json',
    HTTP_PORT: httpPort,
  };
  const producer = spawn(process.execPath, [...SERVICE_NODE_FLAGS, `${ROOT}/src/cli.ts`, 'produce'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  console.log(
    `producer started (pid ${producer.pid}); metrics http://127.0.0.1:${httpPort}/metrics; log ${supervise('producer', producer)}`,
  );
  // Two enrichers in one consumer group share the partitions of cdr.raw.
  const enricherPorts = ['9465', '9466'];
  const enrichers = enricherPorts.map((port, i) => {
    const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, `${ROOT}/src/cli.ts`, 'enrich'], {
      env: { ...env, HTTP_PORT: port },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const log = supervise(`enricher-${i + 1}`, child);
    console.log(`enricher started (pid ${child.pid}); metrics http://127.0.0.1:${port}/metrics; log ${log}`);
    return child;
  });
  const recordingsPort = '9467';
  const recordings = spawn(process.execPath, [...RECORDINGS_NODE_FLAGS, `${ROOT}/src/cli.ts`, 'recordings'], {
    env: { ...env, HTTP_PORT: recordingsPort },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  console.log(
    `recordings stage started (pid ${recordings.pid}); metrics http://127.0.0.1:${recordingsPort}/metrics; log ${supervise('recordings', recordings)}`,
  );
  const children = [producer, ...enrichers, recordings];
  console.log('the console shows progress and anything at warn or above; full logs are in the files above');
  console.log('Ctrl-C stops them');

  const timer = setInterval(() => {
    progress(httpPort, enricherPorts, recordingsPort).catch(() => undefined);
  }, PROGRESS_MS);
  const stop = () => {
    for (const c of children) c.kill('SIGTERM');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const codes = await Promise.all(
    children.map((c) => new Promise<number | null>((resolve) => c.on('exit', resolve))),
  );
  clearInterval(timer);
  console.log(
    `stopped (exit codes ${codes.join(', ')}); the local stack keeps running: ./dev local:down stops it`,
  );
  process.exitCode = codes.every((c) => c === 0) ? 0 : 1;
}

// The console keeps errors to their message; stacks stay in the log files.
const pretty = prettyFactory({
  ...PRETTY_OPTIONS,
  ignore: `${PRETTY_OPTIONS.ignore},err.stack,err.type,err.details,err.retriable,err.name`,
  colorize: process.stdout.isTTY === true,
});
const LOUD = new Set(['warn', 'error', 'fatal']);

/**
 * Writes every line a child prints to .local/run/<name>.log and shows, formatted, the ones at warn
 * or above (and anything that is not a JSON log line, such as a crash trace). Returns the file.
 */
function supervise(name: string, child: ChildProcess): string {
  const path = `${LOCAL}/run/${name}.log`;
  const file = createWriteStream(path, { flags: 'a' });
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) => {
      file.write(`${line}\n`);
      let level: unknown;
      try {
        level = (JSON.parse(line) as { level?: unknown }).level;
      } catch {
        level = undefined;
      }
      if (level === undefined) console.log(`[${name}] ${line}`);
      else if (LOUD.has(String(level))) process.stdout.write(`[${name}] ${pretty(line)}`);
    });
  }
  child.on('exit', () => file.end());
  return path.replace(`${ROOT}/`, '');
}

async function progress(port: string, enricherPorts: string[], recordingsPort: string): Promise<void> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let enriched = 0;
  for (const p of enricherPorts) {
    const t = await (await fetch(`http://127.0.0.1:${p}/metrics`)).text().catch(() => '');
    enriched += sumOf(t, 'cdr_enrich_records_out_total');
  }
  const sum = (name: string) => sumOf(text, name);
  const rec = await (await fetch(`http://127.0.0.1:${recordingsPort}/metrics`)).text().catch(() => '');
  const recorded = sumOf(rec, 'cdr_recordings_references_total');
  const cursors = text
    .split('\n')
    .filter((l) => l.startsWith('cdr_cursor_id{'))
    .map((l) => `${/account="([^"]+)"/.exec(l)?.[1]}@${l.slice(l.lastIndexOf(' ') + 1)}`);
  console.log(
    `[progress] published ${sum('cdr_rows_published_total')}  enriched ${enriched}  dead-lettered ${sum('cdr_rows_dead_lettered_total')}  ` +
      `recordings ${recorded}  feed errors ${sum('cdr_feed_errors_total')}  cursors ${cursors.join(' ')}`,
  );
}

function sumOf(text: string, name: string): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((total, l) => total + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
