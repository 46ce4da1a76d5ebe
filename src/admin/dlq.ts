// `cdr-pipeline dlq list|show`: the dead letters, by account, error code, reason text and time
// window, with the raw row; counts per reason. Producer dead letters carry their account and
// the row; the enricher's carry the source partition and offset of a record it could not read.
import type { Kafka } from 'kafkajs';
import { readToEnd } from '../kafka/bounded-read.ts';
import { renderTable } from './table.ts';

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

/** Dead letters per error code and field, most first. */
export function countByReason(
  letters: readonly DeadLetter[],
): Array<{ errorCode: string; field: string; count: number }> {
  const counts = new Map<string, number>();
  for (const d of letters) {
    const k = `${d.errorCode}\u0000${d.field ?? '-'}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts]
    .map(([k, count]) => {
      const [errorCode, field] = k.split('\u0000') as [string, string];
      return { errorCode, field, count };
    })
    .sort((a, b) => b.count - a.count || a.errorCode.localeCompare(b.errorCode));
}

export function formatDeadLetters(letters: readonly DeadLetter[], limit: number): string {
  const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
  const shown = letters.slice(-limit);
  const parts = [
    letters.length === 0
      ? 'no dead letters match'
      : renderTable(
          ['at', 'time', 'account', 'id', 'code', 'field', 'reason', 'raw'],
          shown.map((d) => [
            d.at,
            d.time,
            d.account,
            d.id ?? '-',
            d.errorCode,
            d.field ?? '-',
            clip(d.reason, 70),
            clip(JSON.stringify(d.raw ?? ''), 50),
          ]),
        ),
  ];
  if (letters.length > shown.length)
    parts.push(`(the last ${shown.length} of ${letters.length}; --limit shows more)`);
  if (letters.length > 0) {
    parts.push('', 'per reason');
    parts.push(
      renderTable(
        ['code', 'field', 'count'],
        countByReason(letters).map((c) => [c.errorCode, c.field, c.count]),
      ),
    );
  }
  return parts.join('\n');
}
