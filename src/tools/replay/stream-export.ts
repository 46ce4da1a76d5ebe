// `export --format csv|jsonl`: one bounded read of the topics, each record written straight from
// its Avro bytes when it has the current cdr-raw schema (csv-transcode.ts, json-transcode.ts),
// through the decoded record otherwise (formats.ts); the output is written in chunks, waiting only
// when the stream asks to drain.
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { Kafka } from 'kafkajs';
import type { RawCdr } from '../../cdr/row.ts';
import { RawDecoder } from '../../codec/raw-decoder.ts';
import type { RegistryOptions } from '../../codec/registry.ts';
import { avroType } from '../../codec/schemas.ts';
import { HEADER_BYTES, MAGIC_BYTE } from '../../codec/wire.ts';
import { readToEnd } from '../../kafka/bounded-read.ts';
import { type CdrFilter, matches } from '../read/filter.ts';
import { csvHeaderLine, csvLine, jsonLine } from '../read/formats.ts';
import { newProgress, progressEnds, type ScanProgress } from '../read/scan.ts';
import { ByteSink, CsvTranscoder, GENERIC, WRITTEN } from './csv-transcode.ts';
import { JsonLinesTranscoder } from './json-transcode.ts';

export interface StreamExportOptions {
  format: 'csv' | 'jsonl';
  topics: string[];
  registry: RegistryOptions;
  filter: CdrFilter;
  out: Writable;
  onProgress?(p: ScanProgress): void;
  fromOffsets?: ReadonlyMap<string, bigint>;
  timeoutMs?: number;
}

const CHUNK = 256 * 1024;

export async function exportRecords(kafka: Kafka, options: StreamExportOptions): Promise<ScanProgress> {
  const progress = newProgress();
  const decoder = new RawDecoder(avroType('cdr-raw'), options.registry);
  const csv = options.format === 'csv';
  const transcoder = csv ? new CsvTranscoder() : new JsonLinesTranscoder();
  const line = csv ? csvLine : jsonLine;
  const filtered = Object.keys(options.filter).length > 0;
  const keep = filtered ? (c: RawCdr) => matches(c, options.filter) : undefined;
  let sink = new ByteSink(2 * CHUNK);
  if (csv) sink.text(csvHeaderLine());
  const flush = async () => {
    if (sink.len === 0) return;
    const chunk = sink.buf.subarray(0, sink.len);
    sink = new ByteSink(2 * CHUNK);
    if (!options.out.write(chunk)) await once(options.out, 'drain');
  };
  await readToEnd(
    kafka,
    options.topics,
    async ({ messages }) => {
      await decoder.prepare(messages.map((m) => m.value));
      for (const m of messages) {
        progress.scanned++;
        const v = m.value;
        let done = GENERIC;
        if (
          v !== null &&
          v.length > HEADER_BYTES &&
          v[0] === MAGIC_BYTE &&
          decoder.writtenWithReader(v.readInt32BE(1))
        ) {
          try {
            done = transcoder.write(v, sink, keep);
          } catch {
            progress.undecodable++;
            continue;
          }
        }
        if (done === GENERIC) {
          let c: RawCdr;
          try {
            c = decoder.decode(v);
          } catch {
            progress.undecodable++;
            continue;
          }
          if (keep && !keep(c)) continue;
          sink.text(line(c));
          done = WRITTEN;
        }
        if (done === WRITTEN) progress.matched++;
      }
      if (sink.len >= CHUNK) await flush();
      options.onProgress?.(progress);
    },
    {
      timeoutMs: options.timeoutMs ?? 30 * 60_000,
      groupPrefix: 'cdr-export',
      onEnds: progressEnds(progress),
      ...(options.fromOffsets ? { fromOffsets: options.fromOffsets } : {}),
    },
  );
  await flush();
  return progress;
}
