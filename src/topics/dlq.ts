// Dead-letter records: JSON, keyed by account, with everything needed to find and fix the row
// and nothing secret (no URL, no credentials); written by the producer (dlqMessage) and the
// enrichers, read back by the tools (readDeadLetters: the producer's carry their account and the
// row, the enricher's the source partition and offset of a record it could not read).
import type { Kafka, Message } from 'kafkajs';
import { readToEnd } from '../kafka/bounded-read.ts';

export interface DlqEntry {
  account: string;
  /** The id when the row had a readable one. As a string: exact in every JSON reader. */
  id?: string;
  line: number;
  raw: string;
  /** Set when `raw` was clipped to the configured limit (rows.deadLetterRawMaxChars). */
  rawClipped?: boolean;
  errorCode: string;
  field: string;
  reason: string;
  feedHost: string;
  fetchedAt: string;
}

export function dlqMessage(entry: DlqEntry): Message {
  return {
    key: entry.account,
    value: JSON.stringify(entry),
    headers: { 'cdr-error-code': entry.errorCode, 'content-type': 'application/json' },
  };
}

export interface DeadLetter {
  /** Where the dead letter itself is: `partition:offset` in the DLQ topic. */
  at: string;
  time: string;
  account: string;
  id: string | null;
  errorCode: string;
  field: string | null;
  reason: string;
  raw: string | null;
  entry: Record<string, unknown>;
}

export interface DlqFilter {
  account?: string;
  code?: string;
  /** Text the reason must contain (case-insensitive). */
  reason?: string;
  since?: number;
  until?: number;
  id?: string;
  at?: string;
}

export async function readDeadLetters(
  kafka: Kafka,
  topic: string,
  filter: DlqFilter,
  timeoutMs = 60_000,
): Promise<DeadLetter[]> {
  const out: DeadLetter[] = [];
  const reason = filter.reason?.toLowerCase();
  await readToEnd(
    kafka,
    [topic],
    ({ partition, messages }) => {
      for (const m of messages) {
        const time = Number(m.timestamp);
        if (filter.until !== undefined && time > filter.until) continue;
        const d = toDeadLetter(`${partition}:${m.offset}`, time, m.value, m.key);
        if (filter.account !== undefined && d.account !== filter.account) continue;
        if (filter.code !== undefined && d.errorCode !== filter.code) continue;
        if (reason !== undefined && !d.reason.toLowerCase().includes(reason)) continue;
        if (filter.id !== undefined && d.id !== filter.id) continue;
        if (filter.at !== undefined && d.at !== filter.at) continue;
        out.push(d);
      }
    },
    {
      timeoutMs,
      groupPrefix: 'cdr-dlq-tool',
      ...(filter.since === undefined ? {} : { fromTimestamp: filter.since }),
    },
  );
  return out.sort((a, b) => a.time.localeCompare(b.time));
}

function toDeadLetter(at: string, time: number, value: Buffer | null, key: Buffer | null): DeadLetter {
  let entry: Record<string, unknown> = {};
  try {
    entry = JSON.parse(value?.toString('utf8') ?? '') as Record<string, unknown>;
  } catch {
    entry = { reason: 'not a JSON dead letter', raw: value?.toString('utf8') ?? null };
  }
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  const source = entry.source as { partition?: number; offset?: string } | undefined;
  return {
    at,
    time: new Date(time).toISOString(),
    account: str(entry.account) ?? `(enricher) ${key?.toString('utf8') ?? ''}`.trim(),
    id: str(entry.id),
    errorCode: str(entry.errorCode) ?? 'unknown',
    field: str(entry.field),
    reason: str(entry.reason) ?? '',
    raw:
      str(entry.raw) ?? (source ? `(record ${source.partition}:${source.offset} of the input topic)` : null),
    entry,
  };
}
