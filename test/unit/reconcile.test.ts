// The pure parts of reconciliation: id ranges and continuity, control records, totals files,
// comparison and the report formats.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import type { Message } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { bigintToTwosComplement, twosComplementToBigint } from '../../src/cdr/decimal.ts';
import { avroType } from '../../src/codec/schemas.ts';
import { unframe } from '../../src/codec/wire.ts';
import { PackedRecords } from '../../src/feed/records.ts';
import { Continuity, IdRanges, IdSet } from '../../src/tools/reconcile/continuity.ts';
import { formatReport } from '../../src/tools/reconcile/format.ts';
import { explainGaps } from '../../src/tools/reconcile/gaps.ts';
import { compareTotals, Differences, type ReconcileReport } from '../../src/tools/reconcile/report.ts';
import { costText, parseCost, TotalsTable } from '../../src/tools/reconcile/totals.ts';
import { readTotalsFile } from '../../src/tools/reconcile/totals-file.ts';
import { addControl, type CdrTally, controlMessages, controlValues } from '../../src/topics/control.ts';

/** Tallies as a batch holds them: the columns the control records are counted from. */
function packed(tallies: readonly CdrTally[]): PackedRecords {
  const p = new PackedRecords(tallies.length);
  for (const t of tallies) {
    p.reserve(0);
    p.add(0, 0, 0, t);
  }
  return p;
}

describe('IdRanges', () => {
  it('keeps ids as ranges whatever the order, finds each id added twice, and the gaps', () => {
    const r = new IdRanges();
    const ids = [5, 1, 3, 2, 4, 10, 12, 11, 20];
    for (const id of ids) expect(r.add(id), String(id)).toBe(true);
    expect(r.ranges()).toEqual([
      [1, 5],
      [10, 12],
      [20, 20],
    ]);
    expect(r.add(3)).toBe(false);
    expect(r.add(20)).toBe(false);
    expect(r.gaps()).toEqual([
      [6, 9],
      [13, 19],
    ]);
    expect([r.count, r.first, r.last]).toEqual([9, 1, 20]);
    expect([r.has(11), r.has(13)]).toEqual([true, false]);
  });

  it('holds a million contiguous ids in one range, past 2^32', () => {
    const r = new IdRanges();
    const base = 5_000_000_000_000;
    for (let i = 0; i < 1_000_000; i++) r.add(base + i);
    expect(r.ranges()).toEqual([[base, base + 999_999]]);
  });

  it('subtracts: what one side has and the other does not', () => {
    const a = new IdRanges();
    const b = new IdRanges();
    for (let i = 1; i <= 20; i++) a.add(i);
    for (const i of [1, 2, 3, 7, 8, 15, 16, 17, 18, 19, 20, 25]) b.add(i);
    expect(a.minus(b)).toEqual([
      [4, 6],
      [9, 14],
    ]);
    expect(b.minus(a)).toEqual([[25, 25]]);
  });
});

describe('gaps against the feed', () => {
  it('splits each hole of cdr.raw into dead letters, ids a pointer row skipped, ids Kafka lacks and ids never sent', () => {
    const ranges = (...rs: Array<[number, number]>) => {
      const r = new IdRanges();
      for (const [a, b] of rs) r.appendRange(a, b);
      return r;
    };
    // The feed sent 1-3, 10-12, 14-15 and 2^40..2^40+5; a pointer row skipped 4-9; 16-19 never came.
    const big = 2 ** 40;
    const feed = { sent: ranges([1, 3], [10, 12], [14, 15], [big, big + 5]), skipped: ranges([4, 9]) };
    const dead = new Map([
      [11, { reason: 'cost is not a decimal' }],
      [12, { reason: 'cost is not a decimal' }],
      [big + 2, { reason: 'seconds' }],
    ]);
    // Kafka has 1-3, 10, 15, 2^40, 2^40+5 and 20.
    const gaps: Array<[number, number]> = [
      [4, 9],
      [11, 14],
      [16, 19],
      [big + 1, big + 4],
    ];
    expect(explainGaps(gaps, feed, dead).map(({ from, to, reason }) => [from, to, reason])).toEqual([
      [4, 9, 'skipped_by_feed'],
      [11, 12, 'dead_lettered'],
      [13, 13, 'not_in_feed'],
      [14, 14, 'missing_in_kafka'],
      [16, 19, 'not_in_feed'],
      [big + 1, big + 1, 'missing_in_kafka'],
      [big + 2, big + 2, 'dead_lettered'],
      [big + 3, big + 4, 'missing_in_kafka'],
    ]);
    expect(explainGaps([[11, 11]], feed, dead)[0]?.detail).toBe('cost is not a decimal');
    expect(explainGaps([], feed, dead)).toEqual([]);
  });
});

describe('IdSet', () => {
  /** The same answers as a plain Set, however the ids are interleaved. */
  function check(ids: number[]) {
    const set = new IdSet();
    const naive = new Set<number>();
    for (const id of ids) expect(set.add(id), `add ${id}`).toBe(!naive.has(id) && Boolean(naive.add(id)));
    const sorted = [...naive].sort((a, b) => a - b);
    const ranges: Array<[number, number]> = [];
    for (const id of sorted) {
      const last = ranges[ranges.length - 1];
      if (last && last[1] + 1 === id) last[1] = id;
      else ranges.push([id, id]);
    }
    expect(set.ranges()).toEqual(ranges);
    expect(set.count).toBe(naive.size);
  }

  it('matches a plain set: six ascending partitions read in batches, gaps, duplicates, ids past 2^32', () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const base = 5_000_000_000_000;
    const partitions: number[][] = [[], [], [], [], [], []];
    for (let id = base; id < base + 600_000; id++) {
      if (random() < 0.001) id += Math.floor(random() * 5000); // a gap
      (partitions[Math.floor(random() * 6)] as number[]).push(id);
    }
    const ids: number[] = [];
    const at = partitions.map(() => 0);
    // Batches of up to 4,000 per partition in turn; partition 5 lags far behind, then catches up.
    while (at.some((a, p) => a < (partitions[p] as number[]).length)) {
      for (let p = 0; p < 6; p++) {
        const take = p === 5 && (at[0] as number) < 300_000 / 6 ? 200 : 4000;
        const list = partitions[p] as number[];
        ids.push(...list.slice(at[p], (at[p] as number) + take));
        at[p] = (at[p] as number) + take;
      }
    }
    ids.push(base + 10, base + 599_000); // twice
    check(ids);
  });

  it('takes ids far below and far above the window, and adds after a query', () => {
    const set = new IdSet();
    for (const id of [1_000_000, 5, 3_000_000, 6, 1_000_001, 4]) set.add(id);
    expect(set.ranges()).toEqual([
      [4, 6],
      [1_000_000, 1_000_001],
      [3_000_000, 3_000_000],
    ]);
    expect(set.add(5)).toBe(false);
    expect(set.add(2_999_999)).toBe(true);
    expect(set.gaps()).toEqual([
      [7, 999_999],
      [1_000_002, 2_999_998],
    ]);
  });
});

describe('Continuity', () => {
  it('reports an id twice and an id going backwards on a partition, not a legal interleaving', () => {
    const c = new Continuity();
    // Two partitions, each ascending: interleaved, no issue.
    for (const [id, p] of [
      [1, 0],
      [2, 1],
      [3, 0],
      [4, 1],
    ] as const)
      c.add('a', id, p, String(id));
    expect(c.issues).toEqual([]);
    c.add('a', 3, 1, '9'); // again, on the other partition
    c.add('a', 2, 0, '10'); // again and backwards
    c.add('a', 9, 0, '11');
    c.add('a', 7, 0, '12'); // backwards, new
    expect(c.issues.map((i) => `${i.kind} ${i.id}`)).toEqual([
      'duplicate 3',
      'duplicate 2',
      'out_of_order 7',
    ]);
    expect(c.accounts.get('a')?.ids.gaps()).toEqual([
      [5, 6],
      [8, 8],
    ]);
  });
});

describe('control records', () => {
  const type = avroType('cdr-control');
  const tally = (id: number, period: string, group: string, cost: bigint): CdrTally => ({
    id,
    period,
    group,
    type: 'M',
    subType: 'M3',
    seconds: 60,
    cost,
  });

  it('sum a batch per billing period, exactly, with each period first and last offset per partition', () => {
    const tallies = [
      tally(10, '2026-11', 'Sales', 1_500_000n),
      tally(11, '2026-10', 'Sales', -250_000n), // a late credit of October
      tally(12, '2026-11', 'Ops', 999_999_999_999_999_999n),
      tally(13, '2026-11', 'Sales', 1n),
    ];
    const raw: Message[] = tallies.map((t, i) => ({ key: t.group, value: null, partition: i % 2 }));
    const out = controlMessages(
      { account: '40021', topic: 'cdr.raw', type, schemaId: 7 },
      raw,
      packed(tallies),
      raw.map((_, i) => 100 + i),
      13,
      Date.UTC(2026, 10, 28),
    );
    const decoded = out.map((m) => {
      const { schemaId, body } = unframe(m.value as Buffer);
      expect(schemaId).toBe(7);
      expect(m.key).toBe('40021');
      return type.fromBuffer(body) as Record<string, unknown> & {
        cost: Buffer;
        lines: Array<{ cost: Buffer }>;
      };
    });
    expect(decoded.map((d) => d.billing_period)).toEqual(['2026-11', '2026-10']);
    const nov = decoded[0] as (typeof decoded)[0];
    expect(nov).toMatchObject({
      count: 3,
      seconds: 180,
      first_id: 10,
      last_id: 13,
      cursor: 13,
      topic: 'cdr.raw',
    });
    expect(twosComplementToBigint(nov.cost)).toBe(999_999_999_999_999_999n + 1_500_001n);
    expect(nov.partitions).toEqual([
      { partition: 0, first_offset: 100, last_offset: 102, count: 2 },
      { partition: 1, first_offset: 103, last_offset: 103, count: 1 },
    ]);
    expect(nov.lines.map((l) => twosComplementToBigint(l.cost))).toEqual([
      1_500_001n,
      999_999_999_999_999_999n,
    ]);
    const oct = decoded[1] as (typeof decoded)[0];
    expect(twosComplementToBigint(oct.cost)).toBe(-250_000n);
    expect(oct.partitions).toEqual([{ partition: 1, first_offset: 101, last_offset: 101, count: 1 }]);
  });
});

describe('control sums', () => {
  it('stay exact when small costs (numbers) add up past 2^53, credits and bigints mixed in', () => {
    const max = 2 ** 47 - 1;
    const tallies: CdrTally[] = Array.from({ length: 5000 }, (_, i) => ({
      id: i + 1,
      period: '2026-11',
      group: 'G',
      type: 'M',
      subType: 'M',
      seconds: 1,
      cost: i === 7 ? -999_999_999_999_999_999n : i % 3 === 0 ? -max : max,
    }));
    const raw: Message[] = tallies.map(() => ({ key: 'G', value: null, partition: 0 }));
    const [v] = controlValues(
      { account: 'a', topic: 'raw' },
      raw,
      packed(tallies),
      new Float64Array(tallies.length).fill(Number.NaN),
      0,
    );
    let expected = 0n;
    for (const t of tallies) expected += BigInt(t.cost);
    expect(v?.cost).toBe(expected);
    expect(v?.lines[0]?.cost).toBe(expected);
  });
});

describe('running control totals', () => {
  it('add transaction after transaction: sums, id range, lines, and the lowest offset per partition', () => {
    const t = (id: number, group: string, cost: bigint): CdrTally => ({
      id,
      period: '2026-11',
      group,
      type: 'M',
      subType: 'M',
      seconds: 10,
      cost,
    });
    const batch = (tallies: CdrTally[], base: number, partition: number) => {
      const raw: Message[] = tallies.map(() => ({ key: 'k', value: null, partition }));
      return controlValues(
        { account: 'a', topic: 'raw' },
        raw,
        packed(tallies),
        raw.map((_, i) => base + i),
        0,
      )[0];
    };
    const one = batch([t(1, 'G', 5n), t(2, 'H', 7n)], 10, 0);
    const two = batch([t(3, 'G', -2n)], 4, 1);
    const three = batch([t(4, 'G', 1n)], 20, 0);
    let total = addControl(undefined, one as never);
    total = addControl(total, two as never);
    total = addControl(total, three as never);
    expect(total).toMatchObject({ count: 4, seconds: 40, cost: 11n, first_id: 1, last_id: 4 });
    expect(total.lines.map((l) => [l.billing_group, l.count, l.cost])).toEqual([
      ['G', 3, 4n],
      ['H', 1, 7n],
    ]);
    expect(total.partitions).toEqual([
      { partition: 0, first_offset: 10, last_offset: 20, count: 3 },
      { partition: 1, first_offset: 4, last_offset: 4, count: 1 },
    ]);
    // The first transaction's value is not changed by adding to it.
    expect(one?.count).toBe(2);
  });
});

describe('totals files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'totals-'));
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  it('reads any subset of key columns by their usual names, and compares line by line', () => {
    const f = readTotalsFile(
      file(
        'a.csv',
        '\uFEFFBilling Period,Account,Records,Cost\r\n2026-10,40021,2,1.5\r\n2026-11,40021,1,"-0.25"\r\n',
      ),
    );
    expect(f.table.columns).toEqual(['billing_period', 'account']);
    expect(f.values).toEqual(['count', 'cost']);
    const kafka = new TotalsTable();
    const key = (period: string) => ({
      billing_period: period,
      account: '40021',
      billing_group: 'G',
      type: 'M',
      sub_type: 'M',
    });
    kafka.addCdr(key('2026-10'), 10, bigintToTwosComplement(1_000_000n), 1);
    kafka.addCdr(key('2026-10'), 10, bigintToTwosComplement(500_000n), 2);
    kafka.addCdr(key('2026-11'), 10, bigintToTwosComplement(-250_001n), 3);
    kafka.addCdr(key('2026-12'), 10, bigintToTwosComplement(0n), 4);
    const out = new Differences();
    compareTotals(kafka.rollUp(f.table.columns), f.table, f.values, out, f.lines);
    expect(out.list).toEqual([
      expect.objectContaining({
        kind: 'totals_differ',
        line: 3,
        column: 'cost',
        kafka: '-0.250001',
        other: '-0.250000',
      }),
      expect.objectContaining({
        kind: 'missing_in_other',
        key: { billing_period: '2026-12', account: '40021' },
      }),
    ]);
  });

  it('refuses a bad file naming the line: bad money, a repeated key, an unknown column', () => {
    expect(() => readTotalsFile(file('b.csv', 'period,cost\n2026-10,1.2345678\n'))).toThrow(/line 2: cost/);
    expect(() => readTotalsFile(file('c.csv', 'period,count\n2026-10,1\n2026-10,2\n'))).toThrow(
      /lines 2 and 3/,
    );
    expect(() => readTotalsFile(file('d.csv', 'period,amount\n'))).toThrow(/column "amount"/);
    expect(() => readTotalsFile(join(dir, 'missing.csv'))).toThrow(/--totals-file/);
  });

  it('money: exact decimal text both ways', () => {
    expect(parseCost('12.3')).toBe(12_300_000n);
    expect(parseCost('-0.000001')).toBe(-1n);
    expect(parseCost('1e3')).toBeUndefined();
    expect(costText(-1n)).toBe('-0.000001');
    expect(costText(123_456_789_012_345_678_901n)).toBe('123456789012345.678901');
  });
});

describe('totals', () => {
  it('sum costs exactly, small and large, credits included, past what a double holds', () => {
    const t = new TotalsTable();
    const key = { billing_period: 'p', account: 'a', billing_group: 'g', type: 't', sub_type: 's' };
    const costs = [
      1n,
      -1n,
      140_737_488_355_327n,
      -140_737_488_355_328n,
      999_999_999_999_999_999n,
      -5n,
      127n,
      -128n,
      128n,
    ];
    let expected = 0n;
    for (let i = 0; i < 200; i++)
      for (const c of costs) {
        t.addCdr(key, 1, bigintToTwosComplement(c), i);
        expected += c;
      }
    // Many maximal small costs: the double accumulator must hand over to the bigint in time.
    for (let i = 0; i < 100_000; i++) {
      t.addCdr(key, 1, bigintToTwosComplement(140_737_488_355_327n), i);
      expected += 140_737_488_355_327n;
    }
    expect(t.get(key)?.cost).toBe(expected);
    expect(t.list()[0]?.totals.count).toBe(200 * costs.length + 100_000);
  });
});

describe('report formats', () => {
  const table = new TotalsTable();
  table.addCdr(
    { billing_period: '2026-11', account: '40021', billing_group: '=cmd', type: 'M', sub_type: 'M3' },
    30,
    bigintToTwosComplement(1_250_000n),
    7,
  );
  const report: ReconcileReport = {
    against: 'feed',
    source: 'scan',
    columns: table.columns,
    totals: table.list(),
    differences: [
      {
        kind: 'values_differ',
        account: '40021',
        id: 7,
        column: 'cost',
        kafka: '1.250000',
        other: '1.350000',
      },
    ],
    unlisted: 0,
    accounts: [{ account: '40021', firstId: 7, lastId: 9, ids: 2, gaps: [[8, 8]] }],
    records: 1,
    ok: false,
  };

  it('CSV: totals, differences and gaps as rows a CSV reader reads back, formulas neutralised', () => {
    const rows = parse(formatReport(report, 'csv'), { columns: true }) as Array<Record<string, string>>;
    expect(rows.map((r) => r.section)).toEqual(['totals', 'difference', 'gap']);
    expect(rows[0]).toMatchObject({ billing_group: "'=cmd", cost: '1.250000', count: '1', first_id: '7' });
    expect(rows[1]).toMatchObject({ kind: 'values_differ', id: '7', column: 'cost', other: '1.350000' });
    expect(rows[2]).toMatchObject({ id: '8', to_id: '8' });
  });

  it('CSV: a credit stays a number a spreadsheet sums, text that starts with a minus stays neutralised', () => {
    const credits = new TotalsTable();
    credits.addCdr(
      { billing_period: '2026-11', account: '40021', billing_group: '-1+cmd|x', type: 'M', sub_type: 'M3' },
      30,
      bigintToTwosComplement(-1_250_000n),
      9,
    );
    const credit: ReconcileReport = {
      ...report,
      totals: credits.list(),
      differences: [
        {
          kind: 'values_differ',
          account: '40021',
          id: 9,
          column: 'cost',
          kafka: '-1.250000',
          other: '-1.350000',
        },
      ],
    };
    const rows = parse(formatReport(credit, 'csv'), { columns: true }) as Array<Record<string, string>>;
    expect(rows[0]).toMatchObject({ cost: '-1.250000', billing_group: "'-1+cmd|x" });
    expect(rows[1]).toMatchObject({ kafka: '-1.250000', other: '-1.350000' });
  });

  it('--accept: differences of an accepted kind are listed but do not fail the month; any other does', () => {
    const out = new Differences(1, new Set(['dead_lettered'] as const));
    out.add({ kind: 'dead_lettered', account: '40021', id: 8 });
    out.add({ kind: 'dead_lettered', account: '40021', id: 9 });
    expect([out.list.length, out.unlisted, out.accepted, out.blocking]).toEqual([1, 1, 2, 0]);
    const clean = formatReport(
      { ...report, differences: out.list, unlisted: out.unlisted, accepted: 2, ok: true },
      'table',
    );
    expect(clean).toContain(
      'OK: 1 CDRs reconciled (scan, against feed), no other difference (2 accepted difference(s) listed)',
    );
    out.add({ kind: 'values_differ', account: '40021', id: 7 });
    expect(out.blocking).toBe(1);
  });

  it('JSON, markdown and table carry the same facts', () => {
    const json = JSON.parse(formatReport(report, 'json')) as {
      ok: boolean;
      totals: Array<Record<string, string>>;
    };
    expect(json.ok).toBe(false);
    expect(json.totals[0]).toMatchObject({ cost: '1.250000', billing_group: '=cmd' });
    const md = formatReport(report, 'markdown');
    expect(md).toContain('| values_differ | 40021 id 7 | cost: kafka 1.250000, other 1.350000 |');
    const text = formatReport(report, 'table');
    expect(text).toContain('DIFFERENT: 1 difference(s)');
    expect(text).toContain('1: 8');
  });
});
