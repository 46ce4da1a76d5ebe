// What the recordings stage writes: a reference record per stored recording (cdr-recording.avsc),
// keyed like its CDR, and a dead letter per recording it gave up on. Pure.
import type { KafkaMessage, Message } from 'kafkajs';
import type { CdrError } from '../errors.ts';
import type { RecordingRef } from './source.ts';
import type { StoredObject } from './store.ts';

export interface Source {
  topic: string;
  partition: number;
}

/** The Avro value of a reference record. */
export function referenceValue(
  ref: RecordingRef,
  bucket: string,
  object: StoredObject,
  source: Source,
  offset: string,
) {
  return {
    id: Number(ref.id),
    account: ref.account,
    billing_period: ref.billingPeriod,
    bucket,
    object_key: object.key,
    size: object.size,
    sha256: object.sha256,
    content_type: object.contentType,
    fetched_at: object.fetchedAt,
    source_path: ref.path,
    source: { topic: source.topic, partition: source.partition, offset: Number(offset) },
  };
}

/** The dead letter of a recording: which CDR, where it is, the path as sent, and why. No URL, no credentials. */
export function recordingDeadLetter(
  m: KafkaMessage,
  ref: RecordingRef,
  source: Source,
  error: CdrError,
  now: number,
): Message {
  return {
    key: m.key,
    value: JSON.stringify({
      account: ref.account,
      id: ref.id,
      source: { ...source, offset: m.offset },
      field: 'recording',
      raw: ref.path,
      errorCode: error.code,
      reason: error.message,
      failedAt: new Date(now).toISOString(),
    }),
    headers: { 'cdr-error-code': error.code },
  };
}
