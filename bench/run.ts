// `./dev bench [rows] [rssRows]`: the producer benchmark (see bench/producer.ts). Prints CDR/s,
// Kafka's own ProducerPerformance in the same run as the ceiling and the ratio, peak RSS on one
// large response (with Node's default heap sizing and with the young generation capped, as the
// container image runs it), and where CPU time went; then the enricher, end-to-end latency and
// the billing teams' tools (bench/replay.ts). Writes .local/bench/results.json.
// `./dev bench accounts [accounts] [rows]`: many accounts in one producer (bench/accounts.ts).
// `./dev bench replay [rows] [rssRows]`: only what the tools need (the topics, filled by the tuned
// producer) and the tools' benchmarks.
// `./dev bench recordings [count] [bytes]`: the recordings stage against a plain upload loop, and its
// peak RSS with 16 downloads of 20 MB in flight (bench/recordings.ts).
// `./dev bench brokers [rows]`: the producer, ProducerPerformance and the enricher on the Kafka that
// STACK_BROKERS selects (1: the single broker, 3: the three-node cluster, replication 3), beside the
// last run on the other one.
// `./dev bench secured [rows]`: the producer and the enricher over plaintext and over SASL_SSL with
// SCRAM-SHA-512 on the single broker, and the ratio (bench/secured.ts).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { RECORDINGS_NODE_FLAGS, SERVICE_ENV, SERVICE_NODE_FLAGS } from '../scripts/node-flags.ts';
import { LOCAL, stackBrokers } from '../scripts/stack/paths.ts';
import { benchAccounts } from './accounts.ts';
import { benchEnricher, consumerCeiling, endToEndLatency } from './enricher.ts';
import { benchProducer, dropRunTopics, feedFile, kafkaCeiling } from './producer.ts';
import { benchRecordings, benchRecordingsMemory } from './recordings.ts';
import { benchExport, benchKcat, benchReconcile, benchReconcileFastMonth, benchSearch } from './replay.ts';
import { securedMain } from './secured.ts';

const replayOnly = process.argv[2] === 'replay';
const accountsOnly = process.argv[2] === 'accounts';
const brokersOnly = process.argv[2] === 'brokers';
const recordingsOnly = process.argv[2] === 'recordings';
const securedOnly = process.argv[2] === 'secured';
const argv =
  replayOnly || accountsOnly || brokersOnly || recordingsOnly || securedOnly
    ? process.argv.slice(3)
    : process.argv.slice(2);
const rows = Number(argv[0] ?? 1_000_000);
const rssRows = Number(argv[1] ?? 5_000_000);
const TUNED = SERVICE_NODE_FLAGS;
/** The producer as the container image runs it: its Node flags and its environment (Dockerfile). */
const IMAGE = { nodeFlags: SERVICE_NODE_FLAGS, env: { ...SERVICE_ENV } };
const IMAGE_LABEL = [...SERVICE_NODE_FLAGS, ...Object.entries(SERVICE_ENV).map(([k, v]) => `${k}=${v}`)].join(
  ' ',
);

const fmt = (n: number) => n.toLocaleString('en');

/** The tools against topics the tuned producer fills, beside ConsumerPerformance on the same records. */
async function tools(small: { rawTopic: string }, large: { rawTopic: string }) {
  const totalsOf = (raw: string) => raw.replace(/\.raw$/, '.control.totals');
  console.log(`Kafka ConsumerPerformance: the ${fmt(rows)} records of ${small.rawTopic}`);
  const consume = await consumerCeiling(small.rawTopic, rows);
  // The reference of every scan: kcat (librdkafka) reading the same topic, read_committed.
  console.log(`kcat, read_committed, keys and values out: ${fmt(rows)} and ${fmt(rssRows)} records`);
  const kcat = {
    [rows]: await benchKcat(small.rawTopic, rows),
    [rssRows]: await benchKcat(large.rawTopic, rssRows),
  };
  for (const [n, r] of Object.entries(kcat))
    console.log(`  kcat, ${fmt(Number(n))}: ${fmt(r.recordsPerSecond)} rec/s`);
  const ratio = (r: ToolRun) => r.recordsPerSecond / (kcat[r.records] as ToolRun).recordsPerSecond;
  const runs: Array<[string, ToolRun]> = [];
  const add = (label: string, r: ToolRun) => {
    runs.push([label, r]);
    console.log(
      `  ${label}: ${fmt(r.recordsPerSecond)} rec/s (${ratio(r).toFixed(2)} of kcat), ${r.seconds.toFixed(1)} s, peak RSS ${r.peakRssMiB} MiB`,
    );
  };
  for (const [n, topic] of [
    [rows, small.rawTopic],
    [rssRows, large.rawTopic],
  ] as const) {
    console.log(`the tools, ${TUNED.join(' ')}: ${fmt(n)} records`);
    add(`export CSV, ${fmt(n)}`, await benchExport(topic, n, TUNED));
    add(`export JSONL, ${fmt(n)}`, await benchExport(topic, n, TUNED, 'jsonl'));
    add(`export Parquet, ${fmt(n)}`, await benchExport(topic, n, TUNED, 'parquet'));
    add(`reconcile, ${fmt(n)}`, await benchReconcile(topic, totalsOf(topic), n, TUNED));
    add(`search, ${fmt(n)}`, await benchSearch(topic, n, TUNED));
  }
  add(
    `reconcile --fast, ${fmt(rssRows)}`,
    await benchReconcile(large.rawTopic, totalsOf(large.rawTopic), rssRows, TUNED, true),
  );
  console.log(
    'reconcile --fast: a month of running totals, two accounts, one transaction a minute, uncompacted',
  );
  const month = await benchReconcileFastMonth(2, TUNED);
  return { consume, kcat, runs: Object.fromEntries(runs), month, ratio, labels: runs };
}
type ToolRun = { records: number; seconds: number; recordsPerSecond: number; peakRssMiB: number };

/** Targets (issue 23): every scan at least half of kcat; Parquet within 256 MiB, CSV and reconcile 200 MiB. */
function targetOf(label: string): { ratio: number; rssMiB: number } | undefined {
  if (label.includes('--fast')) return undefined;
  const rssMiB = label.startsWith('export Parquet')
    ? 256
    : /^(export CSV|reconcile)/.test(label)
      ? 200
      : Infinity;
  return { ratio: 0.5, rssMiB };
}

function printTools(t: Awaited<ReturnType<typeof tools>>, previous: PreviousReplay | undefined): void {
  console.log(
    `  Kafka ConsumerPerformance ${fmt(rows)} records  ${fmt(t.consume.recordsPerSecond).padStart(9)} rec/s`,
  );
  for (const [n, r] of Object.entries(t.kcat))
    console.log(
      `  kcat ${fmt(Number(n))} records${' '.repeat(17)}${fmt(r.recordsPerSecond).padStart(9)} rec/s   previous ${fmtPrev(previous?.kcat?.[n]?.recordsPerSecond)}`,
    );
  const misses: string[] = [];
  for (const [label, r] of t.labels) {
    const target = targetOf(label);
    const ratio = t.ratio(r);
    const before = previous?.runs?.[label];
    const prevText = before
      ? `previous ${fmt(before.recordsPerSecond)} rec/s, ${before.peakRssMiB} MiB`
      : 'previous -';
    console.log(
      `  ${label.padEnd(28)} ${fmt(r.recordsPerSecond).padStart(9)} rec/s  ${r.seconds.toFixed(1).padStart(6)} s  peak RSS ${String(r.peakRssMiB).padStart(4)} MiB  ${label.includes('--fast') ? '(control totals, not the records)' : `${ratio.toFixed(2)} of kcat`}   ${prevText}`,
    );
    if (target && ratio < target.ratio)
      misses.push(`${label}: ${ratio.toFixed(2)} of kcat < ${target.ratio}`);
    if (target && r.peakRssMiB > target.rssMiB)
      misses.push(`${label}: ${r.peakRssMiB} MiB > ${target.rssMiB}`);
  }
  console.log(
    `  reconcile --fast, a month of totals (${fmt(t.month.controlRecords)} records, ${fmt(t.month.cdrs)} CDRs)  ${t.month.seconds.toFixed(2)} s`,
  );
  console.log(misses.length === 0 ? '  targets: all met' : `  targets missed:\n    ${misses.join('\n    ')}`);
}

interface PreviousReplay {
  date?: string;
  kcat?: Record<string, ToolRun>;
  runs?: Record<string, ToolRun>;
}

const fmtPrev = (v: number | undefined) => (v === undefined ? '-' : fmt(v));

async function replayMain(): Promise<void> {
  console.log(`generating feed bodies (${fmt(rows)} and ${fmt(rssRows)} rows, cached in .local/bench/)...`);
  await feedFile(rows);
  await feedFile(rssRows);
  console.log(`producer, ${TUNED.join(' ')}: ${fmt(rows)} and ${fmt(rssRows)} CDRs into fresh topics`);
  const small = await benchProducer(rows, { profile: false, nodeFlags: TUNED });
  const large = await benchProducer(rssRows, { profile: false, nodeFlags: TUNED });
  const file = `${LOCAL}/bench/replay-results.json`;
  const previous = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as PreviousReplay) : undefined;
  const t = await tools(small, large);
  console.log(`\nresults (beside the previous run${previous?.date ? `, ${previous.date}` : ''})`);
  printTools(t, previous);
  await dropRunTopics(small);
  await dropRunTopics(large);
  mkdirSync(`${LOCAL}/bench`, { recursive: true });
  writeFileSync(
    file,
    `${JSON.stringify({ date: new Date().toISOString(), rows, rssRows, consume: t.consume, kcat: t.kcat, runs: t.runs, month: t.month }, null, 2)}\n`,
  );
}

/** The figures of the previous `./dev bench`, printed beside the new ones so a regression shows. */
function previousRun(): Record<string, unknown> | undefined {
  const file = `${LOCAL}/bench/results.json`;
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

function printPrevious(prev: Record<string, unknown> | undefined, now: Record<string, unknown>): void {
  if (prev === undefined) {
    console.log('\n(no previous run in .local/bench/results.json)');
    return;
  }
  const at = (o: unknown, path: string): number | undefined => {
    let v: unknown = o;
    for (const k of path.split('.')) v = (v as Record<string, unknown> | undefined)?.[k];
    return typeof v === 'number' ? v : undefined;
  };
  console.log(`\nthis run beside the previous one (${String(prev.date)}):`);
  for (const [label, path] of [
    ['producer, default flags, CDR/s', 'plain.cdrPerSecond'],
    ['producer, tuned flags, CDR/s', 'tuned.cdrPerSecond'],
    ['producer, 17-column layout, CDR/s', 'legacy17.cdrPerSecond'],
    ['producer, 5M response, CDR/s', 'large.cdrPerSecond'],
    ['producer, 5M response, peak RSS MiB', 'large.peakRssMiB'],
    ['producer, 5M response, 17-column, CDR/s', 'large17.cdrPerSecond'],
    ['producer, 5M response, 17-column, RSS MiB', 'large17.peakRssMiB'],
    ['ProducerPerformance, rec/s', 'ceiling.recordsPerSecond'],
    ['enricher, rec/s', 'enricher.recordsPerSecond'],
    ['ConsumerPerformance, rec/s', 'consumeCeiling.recordsPerSecond'],
    ['latency p99, ms', 'latency.p99Ms'],
  ] as const) {
    const a = at(now, path);
    const b = at(prev, path);
    console.log(
      `  ${label.padEnd(40)} ${fmt(a ?? Number.NaN).padStart(10)}   previous ${b === undefined ? '-' : fmt(b)}`,
    );
  }
}

async function main(): Promise<void> {
  const prev = previousRun();
  console.log(`generating feed bodies (${fmt(rows)} and ${fmt(rssRows)} rows, cached in .local/bench/)...`);
  const { avgRecordBytes } = await feedFile(rows);
  await feedFile(rssRows);
  await feedFile(rows, 'legacy17');
  // A broker just started runs its first minute of load much slower (its JIT compiles as it
  // goes): warmed first, so that neither the first producer run nor ProducerPerformance pays it.
  console.log('warming the broker up: ProducerPerformance and the producer, not measured');
  await kafkaCeiling(rows, avgRecordBytes);
  await dropRunTopics(await benchProducer(rows, { profile: false, ...IMAGE }));

  console.log(
    `producer, default Node flags: ${fmt(rows)} CDRs, loopback feed -> cdr.raw, 5,000 rows per transaction`,
  );
  const plain = await benchProducer(rows, { profile: false });
  console.log(`producer, as the image runs it (${IMAGE_LABEL}): same`);
  const tuned = await benchProducer(rows, { profile: false, ...IMAGE });
  await dropRunTopics(tuned);
  console.log(`producer, ${IMAGE_LABEL}: the same CDRs in the carrier's 17-column layout`);
  const legacy17 = await benchProducer(rows, { profile: false, ...IMAGE, layout: 'legacy17' });
  await dropRunTopics(legacy17);
  console.log('producer, profiled (--cpu-prof, both threads): same');
  const profiled = await benchProducer(rows, { profile: true, ...IMAGE });
  await dropRunTopics(profiled);
  console.log(
    `Kafka ProducerPerformance: ${fmt(rows)} records of ${avgRecordBytes} bytes, transactions, acks=all`,
  );
  const ceiling = await kafkaCeiling(rows, avgRecordBytes);
  console.log(`producer, ${IMAGE_LABEL}: one ${fmt(rssRows)}-row response`);
  const large = await benchProducer(rssRows, { profile: false, ...IMAGE });
  console.log(`producer, ${IMAGE_LABEL}: one ${fmt(rssRows)}-row response in the 17-column layout`);
  const large17 = await benchProducer(rssRows, { profile: false, ...IMAGE, layout: 'legacy17' });
  await dropRunTopics(large17);
  console.log(`producer, default Node flags: one ${fmt(rssRows)}-row response`);
  const largePlain = await benchProducer(rssRows, { profile: false });
  await dropRunTopics(largePlain);

  console.log(`enricher, default Node flags: the ${fmt(rows)} records of ${plain.rawTopic}, exactly once`);
  const enricher = await benchEnricher(plain.rawTopic, rows, []);
  console.log(`Kafka ConsumerPerformance: the same ${fmt(rows)} records`);
  const consumeCeiling = await consumerCeiling(plain.rawTopic, rows);
  const replay = await tools(plain, large);
  console.log('end-to-end latency: feed growing at 2,000 rows/s, polled every second, for 20 s');
  const latency = await endToEndLatency(2000, 20, 1000, TUNED);

  const results = {
    date: new Date().toISOString(),
    rows,
    avgRecordBytes,
    plain,
    tuned,
    legacy17,
    profiled,
    ceiling,
    large,
    large17,
    largePlain,
    enricher,
    consumeCeiling,
    replay: { runs: replay.runs, month: replay.month },
    latency,
  };
  const ratio = (r: typeof plain) => (r.cdrPerSecond / ceiling.recordsPerSecond).toFixed(2);
  const line = (label: string, r: typeof plain) =>
    console.log(
      `  ${label.padEnd(44)} ${fmt(r.cdrPerSecond).padStart(7)} CDR/s  ${r.seconds.toFixed(1).padStart(6)} s  peak RSS ${String(r.peakRssMiB).padStart(3)} MiB  ratio ${ratio(r)}`,
    );
  console.log('\nresults');
  line(`${fmt(rows)} CDRs, default flags`, plain);
  line(`${fmt(rows)} CDRs, image`, tuned);
  line(`${fmt(rows)} CDRs, 17-column layout, image`, legacy17);
  console.log(
    `  17-column layout / contract layout (same flags)   ${((100 * legacy17.cdrPerSecond) / tuned.cdrPerSecond).toFixed(0)}%`,
  );
  line(`${fmt(rssRows)} CDRs in one response, image`, large);
  line(`${fmt(rssRows)} CDRs, 17-column layout, image`, large17);
  line(`${fmt(rssRows)} CDRs, default flags`, largePlain);
  console.log(
    `  Kafka ProducerPerformance (ceiling)          ${fmt(ceiling.recordsPerSecond).padStart(7)} rec/s`,
  );
  console.log(`    ${ceiling.line}`);
  console.log(`  ratio: CDR/s over ProducerPerformance's rec/s in this run; image: ${IMAGE_LABEL}`);
  console.log(
    `  enricher, ${fmt(rows)} records, exactly once  ${fmt(enricher.recordsPerSecond).padStart(7)} rec/s  ${enricher.seconds.toFixed(1).padStart(6)} s  peak RSS ${enricher.peakRssMiB} MiB`,
  );
  console.log(
    `  Kafka ConsumerPerformance (consume ceiling) ${fmt(consumeCeiling.recordsPerSecond).padStart(7)} rec/s`,
  );
  console.log(`    ${consumeCeiling.line}`);
  const ceilingBoth = Math.min(consumeCeiling.recordsPerSecond, ceiling.recordsPerSecond);
  console.log(
    `  ratio (enricher / min(consume, produce))    ${((100 * enricher.recordsPerSecond) / ceilingBoth).toFixed(0)}%`,
  );
  console.log("the billing teams' tools (the producer's topics, kcat on the same records):");
  printTools(replay, undefined);
  console.log(
    `  end-to-end latency feed row -> enriched topic at ${fmt(latency.rate)} rows/s, poll ${latency.pollMs} ms: ` +
      `p50 ${latency.p50Ms} ms, p99 ${latency.p99Ms} ms, max ${latency.maxMs} ms (${fmt(latency.samples)} records)`,
  );
  console.log('where the producer CPU time went (self time, % of samples of the profiled run, per thread):');
  for (const [thread, profile] of [
    ['main thread (HTTP, kafkajs, commits)', profiled.profile],
    ['parse worker (CSV, rows, Avro)', profiled.workerProfile],
  ] as const) {
    console.log(`  ${thread}`);
    for (const [area, pct] of Object.entries(profile ?? {}))
      console.log(`    ${String(pct).padStart(5)}%  ${area}`);
  }
  printPrevious(prev, results);
  mkdirSync(`${LOCAL}/bench`, { recursive: true });
  writeFileSync(`${LOCAL}/bench/results.json`, `${JSON.stringify(results, null, 2)}\n`);
}

/** `./dev bench accounts [accounts] [rows]`: many accounts in one producer (bench/accounts.ts). */
async function accountsMain(): Promise<void> {
  const accounts = Number(argv[0] ?? 1000);
  const rowsEach = Number(argv[1] ?? 200);
  console.log(
    `producer, ${SERVICE_NODE_FLAGS.join(' ')}: ${fmt(accounts)} accounts x ${fmt(rowsEach)} rows from the simulator`,
  );
  const file = `${LOCAL}/bench/accounts-results.json`;
  const previous = (() => {
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as Partial<Awaited<ReturnType<typeof benchAccounts>>> & {
        date?: string;
      };
    } catch {
      return undefined;
    }
  })();
  const r = await benchAccounts(accounts, rowsEach);
  const line = (x: Partial<typeof r>) =>
    `every cursor committed after ${x.seconds?.toFixed(1)} s; peak RSS ${x.peakRssMiB} MiB catching up, ${x.steadyRssMiB ?? '?'} MiB in the ${x.steadySeconds ?? '?'} s after; ${x.brokerConnections} TCP connections to the broker at most; ${x.errorLines} error-level log lines`;
  console.log(`  ${line(r)}`);
  for (const sample of r.samples) console.log(`    ${sample}`);
  if (previous && previous.accounts === r.accounts && previous.rows === r.rows)
    console.log(`  previous run (${previous.date}): ${line(previous)}`);
  mkdirSync(`${LOCAL}/bench`, { recursive: true });
  writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), ...r }, null, 2)}\n`);
}

/** The recordings stage: throughput beside a plain upload loop, then memory with large recordings. */
async function recordingsMain(): Promise<void> {
  const count = Number(argv[0] ?? 3000);
  const bytes = Number(argv[1] ?? 100_000);
  console.log(
    `recordings stage, ${RECORDINGS_NODE_FLAGS.join(' ')}: ${fmt(count)} recordings of ${fmt(bytes)} bytes, simulator -> local S3`,
  );
  const r = await benchRecordings(count, bytes, RECORDINGS_NODE_FLAGS);
  console.log(
    `  ${fmt(r.recordingsPerSecond)} recordings/s (${r.seconds.toFixed(1)} s), exactly once: ${r.exactlyOnce}, peak RSS ${r.peakRssMiB} MiB`,
  );
  console.log(
    `  plain upload loop, same bytes, same S3 client, ${16} at once: ${fmt(r.plainUploadPerSecond)} uploads/s; the stage at ${(100 * r.ratio).toFixed(0)}% of it`,
  );
  const m = await benchRecordingsMemory(20_000_000, RECORDINGS_NODE_FLAGS);
  console.log(
    `  ${m.recordings} recordings of ${fmt(m.bytes)} bytes, ${m.inFlight} in flight: peak RSS ${m.peakRssMiB} MiB (${m.seconds.toFixed(1)} s)`,
  );
  mkdirSync(`${LOCAL}/bench`, { recursive: true });
  writeFileSync(
    `${LOCAL}/bench/recordings-results.json`,
    `${JSON.stringify({ date: new Date().toISOString(), ...r, memory: m }, null, 2)}\n`,
  );
}

/** One broker or three: the same producer, Kafka's own ceiling and the enricher, side by side. */
async function brokersMain(): Promise<void> {
  const brokers = stackBrokers();
  const label = brokers === 3 ? 'three-node cluster, replication 3, min.insync.replicas 2' : 'single broker';
  const { avgRecordBytes } = await feedFile(rows);
  console.log(`${label}: warming up (ProducerPerformance and the producer, not measured)`);
  await kafkaCeiling(rows, avgRecordBytes);
  await dropRunTopics(await benchProducer(rows, { profile: false, ...IMAGE }));
  console.log(`${label}: producer (${IMAGE_LABEL}), ${fmt(rows)} CDRs, 5,000 rows per transaction`);
  const producer = await benchProducer(rows, { profile: false, ...IMAGE });
  console.log(`${label}: Kafka ProducerPerformance, ${fmt(rows)} records, transactions, acks=all`);
  const ceiling = await kafkaCeiling(rows, avgRecordBytes);
  console.log(`${label}: enricher, the ${fmt(rows)} records, exactly once`);
  const enricher = await benchEnricher(producer.rawTopic, rows, []);
  await dropRunTopics(producer);
  const now = {
    date: new Date().toISOString(),
    rows,
    producer: producer.cdrPerSecond,
    ceiling: ceiling.recordsPerSecond,
    enricher: enricher.recordsPerSecond,
  };
  mkdirSync(`${LOCAL}/bench`, { recursive: true });
  writeFileSync(`${LOCAL}/bench/brokers-${brokers}.json`, `${JSON.stringify(now, null, 2)}\n`);
  const otherFile = `${LOCAL}/bench/brokers-${brokers === 3 ? 1 : 3}.json`;
  const other = existsSync(otherFile)
    ? (JSON.parse(readFileSync(otherFile, 'utf8')) as typeof now)
    : undefined;
  const [one, three] = brokers === 3 ? [other, now] : [now, other];
  const cell = (r: typeof now | undefined, k: 'producer' | 'ceiling' | 'enricher') =>
    r === undefined ? '-' : `${fmt(Math.round(r[k]))}/s`;
  console.log('\n| | single broker | three-node cluster |\n| --- | --- | --- |');
  console.log(`| producer, CDRs | ${cell(one, 'producer')} | ${cell(three, 'producer')} |`);
  console.log(`| Kafka ProducerPerformance, records | ${cell(one, 'ceiling')} | ${cell(three, 'ceiling')} |`);
  console.log(`| enricher, records | ${cell(one, 'enricher')} | ${cell(three, 'enricher')} |`);
  console.log(`(runs: ${one?.date ?? '-'} and ${three?.date ?? '-'}, ${fmt(rows)} rows)`);
}

(replayOnly
  ? replayMain()
  : accountsOnly
    ? accountsMain()
    : brokersOnly
      ? brokersMain()
      : recordingsOnly
        ? recordingsMain()
        : securedOnly
          ? securedMain(rows, IMAGE)
          : main()
).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
