// `reconcile --recordings`: the recordings in Kafka against the objects in storage. Every CDR of
// cdr.raw that names a recording has one reference in cdr.recordings (or a dead letter saying why
// not), every reference has its object, the object's bytes hash to the reference's SHA-256 and
// have its size, and no object under the key prefix is left without a reference (an orphan).
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Kafka } from 'kafkajs';
import type { RegistryOptions } from '../../codec/registry.ts';
import { Permits } from '../../ops/permits.ts';
import { type ObjectStore, parseObjectKey } from '../../recordings/store.ts';
import type { CdrScope } from '../reconcile/scope.ts';
import { cdrKey, type Reference, readRecordingsState } from './index.ts';

export type RecordingDifferenceKind =
  /** A CDR naming a recording with no reference and no dead letter: still pending, or lost. */
  | 'no_reference'
  /** The recording was given up (RECORDING_NOT_FOUND, TOO_LARGE...): the dead letter's code. */
  | 'dead_lettered'
  | 'referenced_twice'
  /** A reference whose object is not in storage. */
  | 'object_missing'
  | 'size_differs'
  | 'sha256_differs'
  /** An object under the prefix that no reference names. */
  | 'orphan_object';

export interface RecordingDifference {
  kind: RecordingDifferenceKind;
  account?: string;
  id?: string;
  key?: string;
  detail?: string;
}

export interface RecordingsReconcileReport {
  cdrs: number;
  references: number;
  objects: number;
  /** Objects whose bytes were read and hashed. */
  hashed: number;
  differences: RecordingDifference[];
  unlisted: number;
  ok: boolean;
}

export interface RecordingsReconcileRequest {
  kafka: Kafka;
  registry: RegistryOptions;
  topics: { raw: string; recordings: string; dlq: string };
  store: ObjectStore;
  keyPrefix: string;
  scope: CdrScope;
  /** Hash every object's bytes (the default); false compares the SHA-256 in its metadata only. */
  hashBytes: boolean;
  maxListed: number;
  /** Objects read at once. */
  concurrency?: number;
}

export async function reconcileRecordings(
  req: RecordingsReconcileRequest,
): Promise<RecordingsReconcileReport> {
  const differences: RecordingDifference[] = [];
  let unlisted = 0;
  const add = (d: RecordingDifference) => {
    if (differences.length < req.maxListed) differences.push(d);
    else unlisted++;
  };
  const state = await readRecordingsState(req.kafka, req.topics, req.registry, req.scope.keep);
  const references: Reference[] = [];
  for (const cdr of state.cdrs) {
    const refs = state.references.get(cdrKey(cdr));
    const dead = state.dead.get(cdrKey(cdr));
    if (refs === undefined) {
      add(
        dead === undefined
          ? { kind: 'no_reference', account: cdr.account, id: cdr.id }
          : { kind: 'dead_lettered', account: cdr.account, id: cdr.id, detail: dead },
      );
      continue;
    }
    if (refs.length > 1)
      add({
        kind: 'referenced_twice',
        account: cdr.account,
        id: cdr.id,
        detail: `${refs.length} references`,
      });
    references.push(refs[0] as Reference);
  }
  let hashed = 0;
  const permits = new Permits(req.concurrency ?? 8);
  await Promise.all(
    references.map((ref) =>
      permits.run(async () => {
        const found = await checkObject(req, ref);
        if (found.hashed) hashed++;
        if (found.difference) add(found.difference);
      }),
    ),
  );
  const referencedKeys = new Set(references.map((r) => r.key));
  let objects = 0;
  for await (const o of req.store.list(req.keyPrefix)) {
    const named = parseObjectKey(req.keyPrefix, o.key);
    // Out of scope: objects of other accounts, periods or ids (by what their key names).
    if (
      named &&
      !req.scope.keep({ account: named.account, billing_period: named.billingPeriod, id: Number(named.id) })
    )
      continue;
    objects++;
    if (referencedKeys.has(o.key)) continue;
    // Also an upload whose reference is not committed yet: reconcile a stage that has caught up.
    add({ kind: 'orphan_object', key: o.key, ...(named ? { account: named.account, id: named.id } : {}) });
  }
  return {
    cdrs: state.cdrs.length,
    references: references.length,
    objects,
    hashed,
    differences,
    unlisted,
    ok: differences.length === 0 && unlisted === 0,
  };
}

async function checkObject(
  req: RecordingsReconcileRequest,
  ref: Reference,
): Promise<{ hashed: boolean; difference?: RecordingDifference }> {
  const where = { account: ref.account, id: ref.id, key: ref.key };
  const stat = await req.store.stat(ref.key);
  if (!stat) return { hashed: false, difference: { kind: 'object_missing', ...where } };
  if (stat.size !== ref.size)
    return {
      hashed: false,
      difference: { kind: 'size_differs', ...where, detail: `reference ${ref.size}, object ${stat.size}` },
    };
  let sha256 = stat.sha256;
  if (req.hashBytes) {
    const hash = createHash('sha256');
    await pipeline(await req.store.read(ref.key), hash);
    sha256 = hash.digest('hex');
  }
  if (sha256 !== ref.sha256)
    return {
      hashed: req.hashBytes,
      difference: {
        kind: 'sha256_differs',
        ...where,
        detail: `reference ${ref.sha256}, object ${sha256 ?? '(none in its metadata)'}`,
      },
    };
  return { hashed: req.hashBytes };
}

export function formatRecordingsReport(r: RecordingsReconcileReport, format: 'table' | 'json'): string {
  if (format === 'json') return `${JSON.stringify(r, null, 2)}\n`;
  const lines = [
    `CDRs with a recording ${r.cdrs}, referenced ${r.references}, objects ${r.objects} (${r.hashed} hashed)`,
    r.ok
      ? 'every recording referenced once, stored, and as referenced'
      : `${r.differences.length + r.unlisted} differences`,
  ];
  for (const d of r.differences)
    lines.push([d.kind, d.account, d.id, d.key, d.detail].filter((x) => x !== undefined).join('  '));
  if (r.unlisted > 0) lines.push(`... and ${r.unlisted} more`);
  return `${lines.join('\n')}\n`;
}
