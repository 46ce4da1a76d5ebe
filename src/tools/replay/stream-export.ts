// `export --format csv|jsonl|parquet`: one bounded read of the topics, each record written straight
// from its Avro bytes when it has the current cdr-raw schema (csv-transcode.ts, json-transcode.ts,
// parquet.ts), through the decoded record otherwise; text is written in chunks, waiting only when
// the stream asks to drain; Parquet a row group at a time.
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { Kafka } from 'kafkajs';
import type { RawCdr } from '../../cdr/row.ts';
import { RawDecoder } from '../../codec/raw-decoder.ts';
import type { RegistryOptions } from '../../codec/registry.ts';
import { avroType } from '../../codec/schemas.ts';
import { HEADER_BYTES, MAGIC_BYTE } from '../../codec/wire.ts';
import { readToEnd } from '../../kafka/bounded-read.ts';
import { ByteSink } from '../read/byte-sink.ts';
import { type CdrFilter, matches } from '../read/filter.ts';
import { csvHeaderLine, csvLine, jsonLine } from '../read/formats.ts';
import { RawSpans } from '../read/raw-bytes.ts';
import { newProgress, progressEnds, type ScanProgress } from '../read/scan.ts';
import { CsvTranscoder, GENERIC, SKIPPED, type Transcoder, WRITTEN } from './csv-transcode.ts';
import { JsonLinesTranscoder } from './json-transcode.ts';
import { ParquetExport } from './parquet.ts';

/** Where an export's records go. */
export interface ExportWriter {
  /**
   * A framed cdr-raw value of the current schema: WRITTEN, SKIPPED (`keep` said no) or GENERIC
   * (nothing written: the record needs `record`). Throws on bytes that are not such a record.
   */
  bytes(value: Buffer, keep?: (c: RawCdr) => boolean): number;
  /** A decoded record that passed the filter. */
  record(c: RawCdr): void;
  /** After each fetched batch. */
  batchDone(): Promise<void>;
  /** After the last: the output is whole. */
  end(): Promise<void>;
  /** After a failure: nothing half-written is left to look whole. */
  abort(): void;
}

export interface StreamExportOptions {
  topics: string[];
  registry: RegistryOptions;
  filter: CdrFilter;
  writer: ExportWriter;
  onProgress?(p: ScanProgress): void;
  fromOffsets?: ReadonlyMap<string, bigint>;
  timeoutMs?: number;
}

const CHUNK = 256 * 1024;

/** CSV or JSON Lines to a stream (which the caller ends). */
export function textWriter(format: 'csv' | 'jsonl', out: Writable): ExportWriter {
  const csv = format === 'csv';
  const transcoder: Transcoder = csv ? new CsvTranscoder() : new JsonLinesTranscoder();
  const line = csv ? csvLine : jsonLine;
  // Chunks are reused once the stream has written them: a new 512 KB buffer per chunk was a GB of
  // allocations for a 5,000,000-record export, and the garbage collections they set off.
  const free: ByteSink[] = [];
  let sink = new ByteSink(2 * CHUNK);
  if (csv) sink.text(csvHeaderLine());
  const flush = async () => {
    if (sink.len === 0) return;
    const full = sink;
    sink = free.pop() ?? new ByteSink(2 * CHUNK);
    const written = () => {
      full.len = 0;
      if (free.length < 4) free.push(full);
    };
    if (!out.write(full.buf.subarray(0, full.len), written)) await once(out, 'drain');
  };
  return {
    bytes: (value, keep) => transcoder.write(value, sink, keep),
    record: (c) => sink.text(line(c)),
    batchDone: async () => {
      if (sink.len >= CHUNK) await flush();
    },
    end: flush,
    abort: () => {},
  };
}

/** Parquet to a file, named only once whole. */
export function parquetWriter(path: string): ExportWriter {
  const parquet = new ParquetExport(path);
  const spans = new RawSpans();
  return {
    bytes: (value, keep) => {
      spans.parse(value);
      if (keep && !keep(spans.view())) return SKIPPED;
      if (!spans.extraIsPlain()) return GENERIC;
      parquet.writeSpans(spans);
      return WRITTEN;
    },
    record: (c) => parquet.write(c),
    batchDone: async () => {},
    end: async () => parquet.close(),
    abort: () => parquet.abort(),
  };
}

export async function exportRecords(kafka: Kafka, options: StreamExportOptions): Promise<ScanProgress> {
  const progress = newProgress();
  const decoder = new RawDecoder(avroType('cdr-raw'), options.registry);
  const writer = options.writer;
  const keep = Object.keys(options.filter).length > 0 ? (c: RawCdr) => matches(c, options.filter) : undefined;
  try {
    await readToEnd(
      kafka,
      options.topics,
      async ({ messages }) => {
        await decoder.prepare(messages.map((m) => m.value));
        for (const m of messages) {
          progress.scanned++;
          const done = writeOne(m.value, decoder, writer, keep);
          if (done === WRITTEN) progress.matched++;
          else if (done === UNDECODABLE) progress.undecodable++;
        }
        await writer.batchDone();
        options.onProgress?.(progress);
      },
      {
        timeoutMs: options.timeoutMs ?? 30 * 60_000,
        groupPrefix: 'cdr-export',
        onEnds: progressEnds(progress),
        ...(options.fromOffsets ? { fromOffsets: options.fromOffsets } : {}),
      },
    );
    await writer.end();
  } catch (err) {
    writer.abort();
    throw err;
  }
  return progress;
}

const UNDECODABLE = -2;

/** One record: from its bytes when it has the current schema, decoded otherwise. */
function writeOne(
  v: Buffer | null,
  decoder: RawDecoder,
  writer: ExportWriter,
  keep: ((c: RawCdr) => boolean) | undefined,
): number {
  let done = GENERIC;
  if (
    v !== null &&
    v.length > HEADER_BYTES &&
    v[0] === MAGIC_BYTE &&
    decoder.writtenWithReader(v.readInt32BE(1))
  ) {
    try {
      done = writer.bytes(v, keep);
    } catch {
      return UNDECODABLE;
    }
  }
  if (done !== GENERIC) return done;
  let c: RawCdr;
  try {
    c = decoder.decode(v);
  } catch {
    return UNDECODABLE;
  }
  if (keep && !keep(c)) return SKIPPED;
  writer.record(c);
  return WRITTEN;
}
