// Why an account's ids have holes in cdr.raw, when the feed was read beside it: each hole split into
// ids the producer dead-lettered, ids a pointer row of the feed skipped, ids the feed sent that
// Kafka lacks, and ids the feed never sent. Without the feed a hole is only a hole. Pure.
import type { IdRanges } from './continuity.ts';

export const GAP_REASONS = [
  /** The feed sent the row; the producer dead-lettered it (cdr.dlq). */
  'dead_lettered',
  /** A pointer row of the feed said data continues past these ids. */
  'skipped_by_feed',
  /** The feed sends these ids; Kafka does not have them (a difference of its own). */
  'missing_in_kafka',
  /** The feed did not send these ids. */
  'not_in_feed',
] as const;
export type GapReason = (typeof GAP_REASONS)[number];

export interface GapPart {
  from: number;
  to: number;
  reason: GapReason;
  detail: string;
}

/** What the feed showed of an account: the ids it sent, the ids its pointer rows skipped. */
export interface FeedCoverage {
  sent: IdRanges;
  skipped: IdRanges;
}

const DETAIL: Record<Exclude<GapReason, 'dead_lettered'>, string> = {
  skipped_by_feed: "the feed's pointer row skipped them",
  missing_in_kafka: 'in the feed, not in Kafka',
  not_in_feed: 'not in the feed',
};

/** The parts of each gap, in id order, consecutive ids of the same reason (and dead letter reason) joined. */
export function explainGaps(
  gaps: ReadonlyArray<[number, number]>,
  feed: FeedCoverage,
  deadLetters: ReadonlyMap<number, { reason: string }>,
): GapPart[] {
  const deadIds = [...deadLetters.keys()].sort((a, b) => a - b);
  const sent = feed.sent.ranges();
  const skipped = feed.skipped.ranges();
  const out: GapPart[] = [];
  for (const [from, to] of gaps) {
    // Where the reason can change: the bounds of every range and dead letter inside the gap.
    const cuts = new Set<number>([from]);
    for (const [a, b] of [...sent, ...skipped]) {
      if (a > from && a <= to) cuts.add(a);
      if (b + 1 > from && b + 1 <= to) cuts.add(b + 1);
    }
    for (const id of deadIds) {
      if (id < from || id > to) continue;
      cuts.add(id);
      if (id + 1 <= to) cuts.add(id + 1);
    }
    const starts = [...cuts].sort((a, b) => a - b);
    starts.forEach((start, i) => {
      const end = (starts[i + 1] ?? to + 1) - 1;
      const dead = deadLetters.get(start);
      const reason: GapReason = dead
        ? 'dead_lettered'
        : feed.sent.has(start)
          ? 'missing_in_kafka'
          : feed.skipped.has(start)
            ? 'skipped_by_feed'
            : 'not_in_feed';
      const detail = dead ? dead.reason : DETAIL[reason as keyof typeof DETAIL];
      const last = out.at(-1);
      if (last && last.to + 1 === start && last.reason === reason && last.detail === detail) last.to = end;
      else out.push({ from: start, to: end, reason, detail });
    });
  }
  return out;
}
