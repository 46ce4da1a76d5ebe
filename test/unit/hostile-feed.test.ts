// Hostile feeds, property-based (fast-check, a fixed seed so CI runs the same cases; FC_RUNS and
// FC_SEED for a longer or another run): any mix of valid rows and broken ones, cut into chunks at
// any byte, through the response parser as the producer runs it. Every valid row is published
// once; every broken row is exactly one dead letter carrying its whole raw text (clipped); nothing
// else; and no batch moves the cursor past a row not yet decided.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BUILT_IN_LAYOUTS } from '../../src/cdr/header.ts';
import { avroType } from '../../src/codec/schemas.ts';
import { unframe } from '../../src/codec/wire.ts';
import { PackedRecords } from '../../src/feed/records.ts';
import { type ParsedBatch, ResponseParser, type ResponseSetup } from '../../src/feed/response.ts';

const type = avroType('cdr-raw');
const HEADER =
  'id,account,billing_group,billing_period,start_time,from,to,seconds,type,sub_type,cost,description';
const RAW_MAX = 300;
const MAX_RECORD = 20_000;

const setup: ResponseSetup = {
  account: '40021',
  rows: {
    layouts: BUILT_IN_LAYOUTS,
    timeZone: 'Australia/Sydney',
    currency: undefined,
    delimiter: ',',
    maxRecordChars: MAX_RECORD,
    deadLetterRawMaxChars: RAW_MAX,
    noGroupKeyPrefix: 'account:',
  },
  batch: { maxRows: 7, maxMs: 3_600_000 },
  raw: { topic: 'cdr.raw', schemaId: 7, partitions: 6 },
  feedHost: '127.0.0.1:1',
};

const row = (id: number, o: { seconds?: string; cost?: string; description?: string } = {}) =>
  `${id},40021,Sales,2026-11,2026-11-03T09:15:02+11:00,61290001234,61412345678,${o.seconds ?? '60'},M,M3,${o.cost ?? '0.5'},${o.description ?? 'call'}`;

/**
 * How a row is written, and whether it is a CDR (published) or broken (one dead letter, naming
 * the row's id unless `idLess`: a row whose id cannot be read).
 */
interface Kind {
  valid: boolean;
  idLess?: boolean;
  text: (id: number) => string;
  /** The row's bytes when they are not its text in UTF-8. */
  bytes?: (id: number) => Buffer;
}
const KINDS: Record<string, Kind> = {
  plain: { valid: true, text: (id) => row(id) },
  formula: { valid: true, text: (id) => row(id, { description: '=HYPERLINK("http://x";"y")' }) },
  quoted: { valid: true, text: (id) => row(id, { description: '"a, ""quoted""\nline, and ü 東京"' }) },
  strayCr: { valid: true, text: (id) => row(id, { description: '"carriage\rreturn"' }) },
  strayCrUnquoted: { valid: true, text: (id) => row(id, { description: 'carriage\rreturn' }) },
  credit: { valid: true, text: (id) => row(id, { cost: '-999999999999.999999' }) },
  tooFew: { valid: false, text: (id) => `${id},40021,Sales,2026-11` },
  tooFewMultiLine: { valid: false, text: (id) => `${id},40021,"Sales\nteam\nnote",2026-11,x` },
  tooMany: { valid: false, text: (id) => `${row(id)},extra,fields` },
  // A quote opened and never closed: CSV would read the rest of the body into that field.
  unclosedQuote: { valid: false, text: (id) => row(id, { description: '"never closed' }) },
  badSeconds: { valid: false, text: (id) => row(id, { seconds: 'forty' }) },
  pastLong: { valid: false, text: (id) => row(id, { seconds: '99999999999999999999' }) },
  badCost: { valid: false, text: (id) => row(id, { cost: '$1.20' }) },
  nul: { valid: false, text: (id) => row(id, { seconds: '6\u00000' }) },
  oversized: { valid: false, text: (id) => row(id, { description: 'x'.repeat(MAX_RECORD + 10) }) },
  bomMidBody: { valid: false, idLess: true, text: (id) => `\ufeff${row(id)}` },
  // Bytes that are not UTF-8 (a lone 0xFF, a lead byte without its continuation): the dead
  // letter shows U+FFFD where they were.
  invalidUtf8: {
    valid: false,
    text: (id) => row(id, { description: 'bad\ufffd\ufffdend' }),
    bytes: (id) =>
      Buffer.concat([
        Buffer.from(row(id, { description: 'bad' })),
        Buffer.from([0xff, 0xc3]),
        Buffer.from('end'),
      ]),
  },
};

interface Parsed {
  published: number[];
  dead: Array<{ id?: string | null; raw: string }>;
  batches: ParsedBatch[];
}

/** One poll of `body` from `cursor`, cut into chunks at `cuts`. */
function poll(
  body: Buffer,
  cuts: number[],
  cursor: { lastId: number; deadLetteredAfter: number },
  heldTail: string | undefined,
) {
  const parser = new ResponseParser(
    setup,
    { fetchedAt: '2026-11-28T00:00:00.000Z', cursor, heldTail, maxMessageBytes: 1_000_000 },
    type,
  );
  const batches: ParsedBatch[] = [];
  let at = 0;
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) {
    batches.push(...parser.push(body.subarray(at, cut)));
    at = cut;
  }
  batches.push(...parser.push(body.subarray(at)));
  const end = parser.end(false);
  batches.push(...end.batches);
  return { batches, heldTail: end.summary.heldTail };
}

/**
 * A body polled as the producer polls it: once, and when its last record was held back (no line
 * end: maybe cut short), once more from the cursor (`rest`: the body the feed sends from there),
 * where the same record at the end confirms it.
 */
function parse(body: Buffer, cuts: number[], rest: (lastId: number) => Buffer): Parsed {
  const first = poll(body, cuts, { lastId: 999, deadLetteredAfter: 0 }, undefined);
  const batches = [...first.batches];
  if (first.heldTail !== undefined) {
    const last = batches.at(-1) as ParsedBatch;
    const cursor = { lastId: last.lastId, deadLetteredAfter: last.deadLetteredAfter };
    batches.push(...poll(rest(last.lastId), [], cursor, first.heldTail).batches);
  }
  return {
    batches,
    published: batches.flatMap((b) =>
      PackedRecords.messages(b.raw).map(
        (m) => (type.decode(unframe(m.value as Buffer).body, 0).value as { id: number }).id,
      ),
    ),
    dead: batches.flatMap((b) =>
      b.dlq.map((m) => JSON.parse(String(m.value)) as { id?: string | null; raw: string }),
    ),
  };
}

const clip = (text: string) => (text.length > RAW_MAX ? text.slice(0, RAW_MAX) : text);

describe('hostile feeds (fast-check)', () => {
  const runs = Number(process.env.FC_RUNS ?? 150);
  const seed = Number(process.env.FC_SEED ?? 20261207);

  it('every valid row published once, every broken row one dead letter with its raw text, the cursor never ahead', () => {
    const rows = fc.array(fc.constantFrom(...Object.keys(KINDS)), { minLength: 1, maxLength: 25 });
    const property = fc.property(
      rows,
      fc.array(fc.nat(), { maxLength: 12 }),
      fc.boolean(),
      (kinds, cutSeeds, crlf) => {
        // A quote left open with a broken row after it is ambiguous to any reader (which quote is
        // the stray one, which lines are rows?): the open quote's line and the rows up to the quote
        // that closes it become one dead letter (docs/limitations.md). Held to the property: a quote
        // left open with only whole rows after it, directly or further down.
        fc.pre(
          kinds.every((k, i) => k !== 'unclosedQuote' || kinds.slice(i + 1).every((n) => KINDS[n]?.valid)),
        );
        const eol = crlf ? '\r\n' : '\n';
        const texts = kinds.map((k, i) => (KINDS[k] as Kind).text(1000 + i));
        /** The header and the rows from index `from` on. */
        const bodyFrom = (from: number) =>
          Buffer.concat([
            Buffer.from(HEADER + eol),
            ...kinds.slice(from).flatMap((k, j) => {
              const kind = KINDS[k] as Kind;
              const i = from + j;
              return [kind.bytes?.(1000 + i) ?? Buffer.from(texts[i] as string), Buffer.from(eol)];
            }),
          ]);
        const body = bodyFrom(0);
        const cuts = cutSeeds.map((n) => n % body.length);
        // The feed answers from the cursor's next id: the rows after it.
        const { published, dead, batches } = parse(body, cuts, (lastId) => bodyFrom(lastId - 999));
        const kind = (i: number) => KINDS[kinds[i] as string] as Kind;
        const validIds = kinds.flatMap((_, i) => (kind(i).valid ? [1000 + i] : []));
        const broken = kinds.flatMap((_, i) => (kind(i).valid ? [] : [i]));
        expect(published).toEqual(validIds);
        expect(dead.map((d) => d.id ?? null)).toEqual(
          broken.map((i) => (kind(i).idLess ? null : String(1000 + i))),
        );
        expect(dead.map((d) => d.raw)).toEqual(broken.map((i) => clip(texts[i] as string)));
        // The cursor: each batch's last id is the last row decided so far, and every row up to it
        // was decided in that batch or before (a dead letter without an id decides the next
        // id-less broken row).
        const decided = new Set<number>();
        const idLess = broken.filter((i) => kind(i).idLess).map((i) => 1000 + i);
        for (const b of batches) {
          for (const m of PackedRecords.messages(b.raw))
            decided.add((type.decode(unframe(m.value as Buffer).body, 0).value as { id: number }).id);
          for (const m of b.dlq) {
            const id = (JSON.parse(String(m.value)) as { id?: string | null }).id;
            decided.add(id === undefined || id === null ? (idLess.shift() as number) : Number(id));
          }
          for (let id = 1000; id <= b.lastId; id++)
            expect(decided.has(id), `id ${id} before ${b.lastId}`).toBe(true);
        }
        // At the end, the cursor is at the last row whose id could be read (an id-less dead
        // letter is counted after it: deadLetteredAfter).
        const lastWithId = kinds.findLastIndex((_, i) => !kind(i).idLess);
        expect(batches.at(-1)?.lastId).toBe(lastWithId === -1 ? 999 : 1000 + lastWithId);
        expect(batches.at(-1)?.deadLetteredAfter).toBe(kinds.length - 1 - lastWithId);
      },
    );
    fc.assert(property, { numRuns: runs, seed });
  });
});
