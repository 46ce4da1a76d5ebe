// A CSV or JSON Lines export to a file in two threads: this one reads Kafka (bounded) and passes
// each batch's values on; export-worker.ts decodes, filters, formats and writes. At most a few
// batches are in flight, so memory stays bounded whatever the topic holds.
import { closeSync, openSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { Kafka, KafkaMessage } from 'kafkajs';
import type { RegistryOptions } from '../codec/registry.ts';
import { endOffsets, readToEnd } from '../kafka/bounded-read.ts';
import type { ExportAck, ExportBatch, ExportWorkerData } from './export-worker.ts';
import type { CdrFilter } from './filter.ts';
import type { ScanProgress } from './scan.ts';

const IN_FLIGHT = 4;

export interface ParallelExportOptions {
  topics: string[];
  registry: RegistryOptions;
  filter: CdrFilter;
  format: 'csv' | 'jsonl';
  output: string;
  onProgress?(p: ScanProgress): void;
  fromOffsets?: ReadonlyMap<string, bigint>;
  timeoutMs?: number;
}

function pack(messages: KafkaMessage[]): ExportBatch {
  let bytes = 0;
  for (const m of messages) bytes += 4 + (m.value?.length ?? 0);
  const out = Buffer.allocUnsafe(bytes);
  let at = 0;
  for (const m of messages) {
    if (m.value === null) {
      at = out.writeInt32LE(-1, at);
      continue;
    }
    at = out.writeInt32LE(m.value.length, at);
    at += m.value.copy(out, at);
  }
  // A fresh ArrayBuffer of exactly these bytes: transferred, not copied.
  const values = out.buffer.slice(out.byteOffset, out.byteOffset + out.length) as ArrayBuffer;
  return { values, count: messages.length };
}

export async function parallelExport(kafka: Kafka, o: ParallelExportOptions): Promise<ScanProgress> {
  const ends = await endOffsets(kafka, o.topics);
  const progress: ScanProgress = {
    scanned: 0,
    matched: 0,
    undecodable: 0,
    total: [...ends.values()].reduce((n, e) => n + Number(e), 0),
    startedAt: Date.now(),
  };
  const fd = openSync(o.output, 'w');
  const data: ExportWorkerData = { registry: o.registry, filter: o.filter, format: o.format, fd };
  const script = new URL(
    import.meta.url.endsWith('.ts') ? './export-worker.ts' : './export-worker.js',
    import.meta.url,
  );
  const worker = new Worker(script, {
    workerData: data,
    resourceLimits: { maxYoungGenerationSizeMb: Number(process.env.WY ?? 0) || undefined, maxOldGenerationSizeMb: Number(process.env.WO ?? 0) || undefined } as never,
  });
  let failed: Error | undefined;
  const waiting: Array<() => void> = [];
  let inFlight = 0;
  let ended: () => void = () => {};
  const end = new Promise<void>((resolve) => {
    ended = resolve;
  });
  const wake = () => {
    for (const w of waiting.splice(0)) w();
  };
  worker.on('message', (msg: ExportAck | 'ended' | { error: string }) => {
    if (msg === 'ended') return ended();
    if ('error' in msg) failed = new Error(`export worker: ${msg.error}`);
    else {
      progress.matched += msg.matched;
      progress.undecodable += msg.undecodable;
    }
    inFlight--;
    wake();
  });
  worker.on('error', (err) => {
    failed = err;
    wake();
    ended();
  });
  try {
    await readToEnd(
      kafka,
      o.topics,
      async ({ messages }) => {
        while (inFlight >= IN_FLIGHT && !failed) await new Promise<void>((resolve) => waiting.push(resolve));
        if (failed) throw failed;
        const batch = pack(messages);
        inFlight++;
        worker.postMessage(batch, [batch.values]);
        progress.scanned += messages.length;
        o.onProgress?.(progress);
      },
      {
        timeoutMs: o.timeoutMs ?? 30 * 60_000,
        groupPrefix: 'cdr-export',
        ...(o.fromOffsets ? { fromOffsets: o.fromOffsets } : {}),
      },
    );
    while (inFlight > 0 && !failed) await new Promise<void>((resolve) => waiting.push(resolve));
    if (failed) throw failed;
    worker.postMessage('end');
    await end;
    if (failed) throw failed;
  } finally {
    await worker.terminate();
    closeSync(fd);
  }
  return progress;
}
