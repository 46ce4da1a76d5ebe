// One bounded pass over topics of CDRs (cdr.raw, or an enriched topic, which holds every raw
// field): the end offsets are taken at the start and the pass never waits for newer records.
// Records are decoded with their writer schema into the current cdr-raw reader; a record that
// cannot be decoded is counted, not fatal.
import type { Kafka } from 'kafkajs';
import type { RawCdr } from '../../cdr/row.ts';
import { RawDecoder } from '../../codec/raw-decoder.ts';
import type { RegistryOptions } from '../../codec/registry.ts';
import { avroType, projectedType } from '../../codec/schemas.ts';
import { type EndOffsets, readToEnd } from '../../kafka/bounded-read.ts';

export interface ScanProgress {
  scanned: number;
  matched: number;
  undecodable: number;
  /** Records in the topics' range when the pass started (offsets, transaction markers included). */
  total: number;
  startedAt: number;
}

export interface ScanOptions {
  topics: string[];
  registry: RegistryOptions;
  keep(cdr: RawCdr): boolean;
  /** Called for each kept CDR, in offset order per partition; a promise it returns is awaited. */
  onMatch(
    cdr: RawCdr,
    at: { topic: string; partition: number; offset: string; whole(): RawCdr },
  ): Promise<unknown> | undefined;
  onProgress?(p: ScanProgress): void;
  timeoutMs?: number;
  /** Per `topic/partition`, where the wanted records begin (the period index); others are skipped. */
  fromOffsets?: ReadonlyMap<string, bigint>;
  /** Keeps partitions in step by record time (see BoundedReadOptions.paceMs). */
  paceMs?: number;
  /**
   * Only these fields of cdr-raw are decoded (the others are skipped, not made into strings):
   * for readers that need a few fields of every record. The records handed over hold only them.
   */
  fields?: readonly string[];
  /**
   * Only these fields are decoded for `keep` and handed to `onMatch` (see FILTER_FIELDS), whose
   * `at.whole()` decodes the record whole: for passes that need few records whole (search).
   */
  keepFields?: readonly string[];
}

/** A pass's counters; its total is filled in by progressEnds. */
export function newProgress(): ScanProgress {
  return { scanned: 0, matched: 0, undecodable: 0, total: 0, startedAt: Date.now() };
}

/** Fills `progress.total` from the end offsets the bounded read captures (no read of its own). */
export function progressEnds(progress: ScanProgress): (ends: EndOffsets) => void {
  return (ends) => {
    progress.total = [...ends.values()].reduce((n, e) => n + Number(e), 0);
  };
}

export async function scan(kafka: Kafka, options: ScanOptions): Promise<ScanProgress> {
  const progress = newProgress();
  const decoder = new RawDecoder(
    options.fields ? projectedType('cdr-raw', options.fields) : avroType('cdr-raw'),
    options.registry,
  );
  const keepDecoder = options.keepFields
    ? new RawDecoder(projectedType('cdr-raw', options.keepFields), options.registry)
    : decoder;
  await readToEnd(
    kafka,
    options.topics,
    async ({ topic, partition, messages }) => {
      const values = messages.map((m) => m.value);
      await keepDecoder.prepare(values);
      if (keepDecoder !== decoder) await decoder.prepare(values);
      for (const m of messages) {
        progress.scanned++;
        let cdr: RawCdr;
        try {
          cdr = keepDecoder.decode(m.value);
        } catch {
          progress.undecodable++;
          continue;
        }
        if (!options.keep(cdr)) continue;
        progress.matched++;
        const projected = cdr;
        const whole = keepDecoder === decoder ? () => projected : () => decoder.decode(m.value);
        // Awaited only when the callback has to wait (an output stream asking to drain).
        const wait = options.onMatch(cdr, { topic, partition, offset: m.offset, whole });
        if (wait) await wait;
      }
      options.onProgress?.(progress);
    },
    {
      timeoutMs: options.timeoutMs ?? 30 * 60_000,
      groupPrefix: 'cdr-scan',
      onEnds: progressEnds(progress),
      ...(options.fromOffsets ? { fromOffsets: options.fromOffsets } : {}),
      ...(options.paceMs === undefined ? {} : { paceMs: options.paceMs }),
    },
  );
  return progress;
}
