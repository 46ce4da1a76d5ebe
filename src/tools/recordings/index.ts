// What billing teams and operators ask of the stored recordings, from Kafka and the object storage
// alone: where the recording of a CDR is (`recordings get`), and how far the recordings stage has
// come (`recordings status`: fetched, failed, pending, bytes, the oldest CDR still waiting).
import type { Kafka } from 'kafkajs';
import type { RawCdr } from '../../cdr/row.ts';
import { avroType } from '../../codec/index.ts';
import { RawDecoder, WriterSchemaDecoder } from '../../codec/raw-decoder.ts';
import type { RegistryOptions } from '../../codec/registry.ts';
import { readToEnd } from '../../kafka/bounded-read.ts';

export interface Reference {
  id: string;
  account: string;
  billingPeriod: string;
  bucket: string;
  key: string;
  size: number;
  sha256: string;
  contentType: string;
  fetchedAt: string;
  sourcePath: string;
}

interface ReferenceValue {
  id: number;
  account: string;
  billing_period: string;
  bucket: string;
  object_key: string;
  size: number;
  sha256: string;
  content_type: string;
  fetched_at: number;
  source_path: string;
}

const READ = { timeoutMs: 120_000, groupPrefix: 'cdr-recordings-read' };

/** Every reference record of `topic` (optionally only those of one CDR id and account). */
export async function readReferences(
  kafka: Kafka,
  topic: string,
  registry: RegistryOptions,
  only?: { id?: string; account?: string },
): Promise<Reference[]> {
  const decoder = new WriterSchemaDecoder<ReferenceValue>(
    avroType('cdr-recording'),
    registry,
    'cdr-recording',
  );
  const out: Reference[] = [];
  await readToEnd(
    kafka,
    [topic],
    async ({ messages }) => {
      await decoder.prepare(messages.map((m) => m.value));
      for (const m of messages) {
        const v = decoder.decode(m.value);
        if (only?.id !== undefined && String(v.id) !== only.id) continue;
        if (only?.account !== undefined && v.account !== only.account) continue;
        out.push({
          id: String(v.id),
          account: v.account,
          billingPeriod: v.billing_period,
          bucket: v.bucket,
          key: v.object_key,
          size: v.size,
          sha256: v.sha256,
          contentType: v.content_type,
          fetchedAt: new Date(v.fetched_at).toISOString(),
          sourcePath: v.source_path,
        });
      }
    },
    READ,
  );
  return out;
}

export interface RecordingsStatus {
  /** CDRs in cdr.raw that name a recording. */
  withRecording: number;
  fetched: number;
  bytes: number;
  /** Dead letters of recordings, by error code. */
  failed: Record<string, number>;
  /** CDRs naming a recording with neither a reference nor a dead letter yet. */
  pending: number;
  /** When the oldest of them was published (ISO), if any. */
  oldestPending: string | undefined;
  /** CDR ids referenced more than once (0 when exactly once holds). */
  duplicateReferences: number;
}

/** A CDR of cdr.raw that names a recording. */
export interface RecordedCdr {
  account: string;
  id: string;
  billingPeriod: string;
  publishedAt: number;
}

/** What Kafka says of the recordings: the CDRs that name one, their references, their dead letters. */
export interface RecordingsState {
  cdrs: RecordedCdr[];
  /** References by `<account>/<id>` (more than one: referenced twice). */
  references: Map<string, Reference[]>;
  /** The dead letter's error code by `<account>/<id>`. */
  dead: Map<string, string>;
}

export const cdrKey = (c: { account: string; id: string }) => `${c.account}/${c.id}`;

/** Reads cdr.raw, cdr.recordings and the DLQ to their ends; `keep` narrows the CDRs (a scope). */
export async function readRecordingsState(
  kafka: Kafka,
  topics: { raw: string; recordings: string; dlq: string },
  registry: RegistryOptions,
  keep: (cdr: RawCdr) => boolean = () => true,
): Promise<RecordingsState> {
  const references = new Map<string, Reference[]>();
  for (const r of await readReferences(kafka, topics.recordings, registry))
    references.set(cdrKey(r), [...(references.get(cdrKey(r)) ?? []), r]);
  const dead = new Map<string, string>();
  await readToEnd(
    kafka,
    [topics.dlq],
    ({ messages }) => {
      for (const m of messages) {
        const entry = JSON.parse(m.value?.toString() ?? '{}') as {
          field?: string;
          account?: string;
          id?: string;
          source?: { topic?: string };
        };
        if (entry.field !== 'recording' || entry.source?.topic !== topics.raw) continue;
        dead.set(`${entry.account}/${entry.id}`, m.headers?.['cdr-error-code']?.toString() ?? '');
      }
    },
    READ,
  );
  const decoder = new RawDecoder(avroType('cdr-raw'), registry);
  const cdrs: RecordedCdr[] = [];
  await readToEnd(
    kafka,
    [topics.raw],
    async ({ messages }) => {
      await decoder.prepare(messages.map((m) => m.value));
      for (const m of messages) {
        let cdr: RawCdr;
        try {
          cdr = decoder.decode(m.value);
        } catch {
          continue; // the enrichers dead-letter what cannot be decoded; not a recording's concern
        }
        if (!cdr.recording?.trim() || !keep(cdr)) continue;
        cdrs.push({
          account: cdr.account,
          id: String(cdr.id),
          billingPeriod: cdr.billing_period,
          publishedAt: Number(m.timestamp),
        });
      }
    },
    READ,
  );
  return { cdrs, references, dead };
}

/** How far the recordings stage has come, from cdr.raw, cdr.recordings and the DLQ. */
export async function recordingsStatus(
  kafka: Kafka,
  topics: { raw: string; recordings: string; dlq: string },
  registry: RegistryOptions,
): Promise<RecordingsStatus> {
  const { cdrs, references, dead } = await readRecordingsState(kafka, topics, registry);
  const failed: Record<string, number> = {};
  for (const code of dead.values()) failed[code] = (failed[code] ?? 0) + 1;
  const waiting = cdrs.filter((c) => !references.has(cdrKey(c)) && !dead.has(cdrKey(c)));
  const oldest = waiting.reduce<number | undefined>(
    (min, c) => (min === undefined || c.publishedAt < min ? c.publishedAt : min),
    undefined,
  );
  const refs = [...references.values()];
  return {
    withRecording: cdrs.length,
    fetched: references.size,
    bytes: refs.reduce((sum, r) => sum + (r[0]?.size ?? 0), 0),
    failed,
    pending: waiting.length,
    oldestPending: oldest === undefined ? undefined : new Date(oldest).toISOString(),
    duplicateReferences: refs.filter((r) => r.length > 1).length,
  };
}

export function formatRecordingsStatus(s: RecordingsStatus): string {
  const failed = Object.entries(s.failed)
    .map(([code, n]) => `${code} ${n}`)
    .join(', ');
  return [
    `CDRs with a recording  ${s.withRecording}`,
    `fetched                ${s.fetched} (${(s.bytes / 1024 / 1024).toFixed(1)} MiB)`,
    `failed                 ${failed === '' ? '0' : failed}`,
    `pending                ${s.pending}${s.oldestPending ? ` (oldest published ${s.oldestPending})` : ''}`,
    `referenced twice       ${s.duplicateReferences}`,
  ].join('\n');
}
