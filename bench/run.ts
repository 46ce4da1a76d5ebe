// `./dev bench [rows] [rssRows]`: the producer benchmark (see bench/producer.ts). Prints records/s,
// Kafka's ceiling in the same run and the ratio, peak RSS on a large response, and where CPU time
// went; writes the figures to .local/bench/results.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { LOCAL } from '../scripts/stack/paths.ts';
import { benchProducer, feedFile, kafkaCeiling } from './producer.ts';

const rows = Number(process.argv[2] ?? 1_000_000);
const rssRows = Number(process.argv[3] ?? 5_000_000);

async function main(): Promise<void> {
  console.log(`generating feed bodies (${rows} and ${rssRows} rows, cached in .local/bench/)...`);
  const { avgRecordBytes } = await feedFile(rows);
  await feedFile(rssRows);

  console.log(`producer: ${rows} CDRs, feed on loopback -> cdr.raw, one transaction per 5,000 rows...`);
  const throughput = await benchProducer(rows, { profile: true });
  console.log(
    `kafka ProducerPerformance: ${rows} records of ${avgRecordBytes} bytes, transactions, acks=all...`,
  );
  const ceiling = await kafkaCeiling(rows, avgRecordBytes);
  console.log(`producer: peak RSS on one ${rssRows}-row response...`);
  const large = await benchProducer(rssRows, { profile: false });

  const ratio = throughput.cdrPerSecond / ceiling.recordsPerSecond;
  const results = { date: new Date().toISOString(), rows, avgRecordBytes, throughput, ceiling, ratio, large };
  console.log('');
  console.log(
    `cdr-pipeline producer  ${throughput.cdrPerSecond.toLocaleString('en')} CDR/s over ${rows.toLocaleString('en')} CDRs (${throughput.seconds.toFixed(1)} s), peak RSS ${throughput.peakRssMiB} MiB`,
  );
  console.log(
    `Kafka ProducerPerformance ${ceiling.recordsPerSecond.toLocaleString('en')} records/s  (${ceiling.line})`,
  );
  console.log(`ratio ${(ratio * 100).toFixed(0)}% of the ceiling`);
  console.log(
    `${rssRows.toLocaleString('en')}-row response: ${large.cdrPerSecond.toLocaleString('en')} CDR/s, peak RSS ${large.peakRssMiB} MiB`,
  );
  console.log('where the producer CPU time went (self time, % of samples):');
  for (const [area, pct] of Object.entries(throughput.profile ?? {}))
    console.log(`  ${String(pct).padStart(5)}%  ${area}`);
  mkdirSync(`${LOCAL}/bench`, { recursive: true });
  writeFileSync(`${LOCAL}/bench/results.json`, `${JSON.stringify(results, null, 2)}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
