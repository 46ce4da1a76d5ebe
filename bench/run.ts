// `./dev bench [rows] [rssRows]`: the producer benchmark (see bench/producer.ts). Prints CDR/s,
// Kafka's own ProducerPerformance in the same run as the ceiling and the ratio, peak RSS on one
// large response (with Node's default heap sizing and with the young generation capped, as the
// container image runs it), and where CPU time went. Writes .local/bench/results.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { SERVICE_NODE_FLAGS } from '../scripts/node-flags.ts';
import { LOCAL } from '../scripts/stack/paths.ts';
import { benchEnricher, consumerCeiling, endToEndLatency } from './enricher.ts';
import { benchExport } from './export.ts';
import { benchProducer, feedFile, kafkaCeiling } from './producer.ts';

const rows = Number(process.argv[2] ?? 1_000_000);
const rssRows = Number(process.argv[3] ?? 5_000_000);
const TUNED = SERVICE_NODE_FLAGS;

const fmt = (n: number) => n.toLocaleString('en');

async function main(): Promise<void> {
  console.log(`generating feed bodies (${fmt(rows)} and ${fmt(rssRows)} rows, cached in .local/bench/)...`);
  const { avgRecordBytes } = await feedFile(rows);
  await feedFile(rssRows);
  await feedFile(rows, 'legacy17');

  console.log(
    `producer, default Node flags: ${fmt(rows)} CDRs, loopback feed -> cdr.raw, 5,000 rows per transaction`,
  );
  const plain = await benchProducer(rows, { profile: false });
  console.log(`producer, ${TUNED.join(' ')}: same`);
  const tuned = await benchProducer(rows, { profile: false, nodeFlags: TUNED });
  console.log(`producer, ${TUNED.join(' ')}: the same CDRs in the carrier's 17-column layout`);
  const legacy17 = await benchProducer(rows, { profile: false, nodeFlags: TUNED, layout: 'legacy17' });
  console.log('producer, profiled (--cpu-prof): same');
  const profiled = await benchProducer(rows, { profile: true, nodeFlags: TUNED });
  console.log(
    `Kafka ProducerPerformance: ${fmt(rows)} records of ${avgRecordBytes} bytes, transactions, acks=all`,
  );
  const ceiling = await kafkaCeiling(rows, avgRecordBytes);
  console.log(`producer, ${TUNED.join(' ')}: one ${fmt(rssRows)}-row response`);
  const large = await benchProducer(rssRows, { profile: false, nodeFlags: TUNED });
  console.log(`producer, default Node flags: one ${fmt(rssRows)}-row response`);
  const largePlain = await benchProducer(rssRows, { profile: false });

  console.log(`enricher, default Node flags: the ${fmt(rows)} records of ${plain.rawTopic}, exactly once`);
  const enricher = await benchEnricher(plain.rawTopic, rows, []);
  console.log(`Kafka ConsumerPerformance: the same ${fmt(rows)} records`);
  const consumeCeiling = await consumerCeiling(plain.rawTopic, rows);
  console.log(`export to CSV, ${TUNED.join(' ')}: the ${fmt(rows)} records of ${plain.rawTopic}`);
  const exported = await benchExport(plain.rawTopic, rows, TUNED);
  console.log(`export to CSV, ${TUNED.join(' ')}: the ${fmt(rssRows)} records of ${large.rawTopic}`);
  const exportedLarge = await benchExport(large.rawTopic, rssRows, TUNED);
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
    largePlain,
    enricher,
    consumeCeiling,
    exported,
    exportedLarge,
    latency,
  };
  const line = (label: string, r: typeof plain) =>
    console.log(
      `  ${label.padEnd(44)} ${fmt(r.cdrPerSecond).padStart(7)} CDR/s  ${r.seconds.toFixed(1).padStart(6)} s  peak RSS ${r.peakRssMiB} MiB`,
    );
  console.log('\nresults');
  line(`${fmt(rows)} CDRs, default flags`, plain);
  line(`${fmt(rows)} CDRs, ${TUNED.join(' ')}`, tuned);
  line(`${fmt(rows)} CDRs, 17-column layout, ${TUNED.join(' ')}`, legacy17);
  console.log(
    `  17-column layout / contract layout (same flags)   ${((100 * legacy17.cdrPerSecond) / tuned.cdrPerSecond).toFixed(0)}%`,
  );
  line(`${fmt(rssRows)} CDRs, ${TUNED.join(' ')}`, large);
  line(`${fmt(rssRows)} CDRs, default flags`, largePlain);
  console.log(
    `  Kafka ProducerPerformance (ceiling)          ${fmt(ceiling.recordsPerSecond).padStart(7)} rec/s`,
  );
  console.log(`    ${ceiling.line}`);
  console.log(
    `  ratio (default flags / ceiling)              ${((100 * plain.cdrPerSecond) / ceiling.recordsPerSecond).toFixed(0)}%`,
  );
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
  console.log(
    `  export to CSV, ${fmt(rows)} records              ${fmt(exported.recordsPerSecond).padStart(7)} rec/s  ${exported.seconds.toFixed(1).padStart(6)} s  peak RSS ${exported.peakRssMiB} MiB  (${((100 * exported.recordsPerSecond) / consumeCeiling.recordsPerSecond).toFixed(0)}% of ConsumerPerformance)`,
  );
  console.log(
    `  export to CSV, ${fmt(rssRows)} records              ${fmt(exportedLarge.recordsPerSecond).padStart(7)} rec/s  ${exportedLarge.seconds.toFixed(1).padStart(6)} s  peak RSS ${exportedLarge.peakRssMiB} MiB`,
  );
  console.log(
    `  end-to-end latency feed row -> enriched topic at ${fmt(latency.rate)} rows/s, poll ${latency.pollMs} ms: ` +
      `p50 ${latency.p50Ms} ms, p99 ${latency.p99Ms} ms, max ${latency.maxMs} ms (${fmt(latency.samples)} records)`,
  );
  console.log('where the producer CPU time went (self time, % of samples of the profiled run):');
  for (const [area, pct] of Object.entries(profiled.profile ?? {}))
    console.log(`  ${String(pct).padStart(5)}%  ${area}`);
  mkdirSync(`${LOCAL}/bench`, { recursive: true });
  writeFileSync(`${LOCAL}/bench/results.json`, `${JSON.stringify(results, null, 2)}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
