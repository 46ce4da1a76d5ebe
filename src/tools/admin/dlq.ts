// `cdr-pipeline dlq list|show`: the dead letters, by account, error code, reason text and time
// window, with the raw row; counts per reason. Producer dead letters carry their account and
// the row; the enricher's carry the source partition and offset of a record it could not read.
import type { DeadLetter } from '../../topics/dlq.ts';
import { renderTable } from '../read/table.ts';

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
