// The second half of a CSV or JSON Lines export to a file, on a thread of its own: the main thread
// reads Kafka and hands over each batch's record values, packed in one transferred buffer; this
// thread decodes them with their writer schema, filters, formats and writes them. Decoding and
// formatting are most of an export's work, so the two halves run side by side.
import { writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import type { RawCdr } from '../cdr/row.ts';
import { RawDecoder } from '../codec/raw-decoder.ts';
import type { RegistryOptions } from '../codec/registry.ts';
import { avroType } from '../codec/schemas.ts';
import { type CdrFilter, matches } from './filter.ts';
import { csvHeaderLine, csvLine, jsonLine } from './formats.ts';

export interface ExportWorkerData {
  registry: RegistryOptions;
  filter: CdrFilter;
  format: 'csv' | 'jsonl';
  /** A file descriptor open for writing. */
  fd: number;
}

/** A batch: `values` holds each record's value after a 4-byte length (-1: null). */
export interface ExportBatch {
  values: ArrayBuffer;
  count: number;
}

export interface ExportAck {
  matched: number;
  undecodable: number;
}

const data = workerData as ExportWorkerData;
const decoder = new RawDecoder(avroType('cdr-raw'), data.registry);
const line: (c: RawCdr) => string = data.format === 'csv' ? csvLine : jsonLine;
let pending = data.format === 'csv' ? csvHeaderLine() : '';

function flush(): void {
  if (pending.length === 0) return;
  const bytes = Buffer.from(pending, 'utf8');
  pending = '';
  for (let at = 0; at < bytes.length; ) at += writeSync(data.fd, bytes, at);
}

parentPort?.on('message', (msg: ExportBatch | 'end') => {
  if (msg === 'end') {
    flush();
    parentPort?.postMessage('ended');
    return;
  }
  void handle(msg).then(
    (ack) => parentPort?.postMessage(ack),
    (err: unknown) => parentPort?.postMessage({ error: err instanceof Error ? err.message : String(err) }),
  );
});

async function handle(batch: ExportBatch): Promise<ExportAck> {
  const buf = Buffer.from(batch.values);
  const values: Array<Buffer | null> = [];
  for (let at = 0, i = 0; i < batch.count; i++) {
    const n = buf.readInt32LE(at);
    at += 4;
    if (n < 0) values.push(null);
    else {
      values.push(buf.subarray(at, at + n));
      at += n;
    }
  }
  await decoder.prepare(values);
  let matched = 0;
  let undecodable = 0;
  for (const v of values) {
    let c: RawCdr;
    try {
      c = decoder.decode(v);
    } catch {
      undecodable++;
      continue;
    }
    if (!matches(c, data.filter)) continue;
    matched++;
    pending += line(c);
    if (pending.length >= 262_144) flush();
  }
  return { matched, undecodable };
}
