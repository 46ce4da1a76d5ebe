// The values `reconcile --feed` compares, id by id: every column the feed sends, as Kafka and the
// feed each hold it. The contract's columns, the named columns of the other layouts (Date, Time,
// Status, Terminated, Smartcode, MP3...) and the columns no layout names, which the producer carries
// in `extra` under their feed header. `--ignore-column` leaves out a column a carrier is known to
// rewrite, named by its field or its feed header. Pure.
import { bytesToDecimalString } from '../../cdr/decimal.ts';
import type { HeaderMap } from '../../cdr/header.ts';
import { CONTRACT_COLUMNS, FIELDS, type Field, fieldNamed, type Layout } from '../../cdr/layouts.ts';
import type { RawCdr } from '../../cdr/row.ts';
import { CdrError, ErrorCodes } from '../../errors.ts';

/** The fields compared and where a CDR holds each (the contract's first, in its order). */
const COMPARED: ReadonlyArray<[Field, keyof RawCdr]> = [
  ...CONTRACT_COLUMNS.map((c) => [c, c] as [Field, keyof RawCdr]),
  ['date', 'date_text'],
  ['time', 'time_text'],
  ['status', 'status'],
  ['terminated', 'terminated'],
  ['smartcode', 'smartcode'],
  ['smartcode_description', 'smartcode_description'],
  ['recording', 'recording'],
];

const norm = (s: string) => s.trim().toLowerCase();

/** Which columns are compared: all but the ignored fields and extra columns. */
export class ColumnFilter {
  private readonly fields: ReadonlyArray<[Field, keyof RawCdr]>;
  /** Extra columns left out, by their normalised feed header. */
  private readonly extras: ReadonlySet<string>;
  /** Each name asked for, and whether it is a field of some layout (else an extra column). */
  private readonly asked: ReadonlyArray<{ name: string; field: Field | undefined }>;

  /** `ignore`: names from `--ignore-column`; a layout's header name stands for its field. */
  constructor(ignore: readonly string[] = [], layouts: readonly Layout[] = []) {
    this.asked = ignore.map((name) => {
      const n = norm(name);
      const field =
        (FIELDS as readonly string[]).includes(n) && COMPARED.some(([f]) => f === n)
          ? (n as Field)
          : layouts.map((l) => fieldNamed(l, name)).find((f) => f !== undefined);
      return { name, field };
    });
    const ignored = new Set(this.asked.map((a) => a.field).filter((f) => f !== undefined));
    this.fields = COMPARED.filter(([f]) => !ignored.has(f));
    this.extras = new Set(this.asked.filter((a) => a.field === undefined).map((a) => norm(a.name)));
  }

  /**
   * Refuses an ignored name the feed's header does not have (a typo would silently compare
   * everything): exit 2, naming it and the header's columns.
   */
  checkHeader(header: HeaderMap, sent: readonly string[]): void {
    const extras = new Set(header.extra.map(([name]) => norm(name)));
    for (const a of this.asked) {
      const there = a.field !== undefined ? header.index[a.field] !== -1 : extras.has(norm(a.name));
      if (!there)
        throw new CdrError(
          ErrorCodes.CONFIG_INVALID,
          `invalid option: --ignore-column ${a.name}: the feed's header has no such column (it has: ${sent.map((s) => s.trim()).join(', ')})`,
        );
    }
  }

  /** The values compared, as one text (summed per bucket of ids). */
  comparable(c: RawCdr): string {
    const parts = this.fields.map(([, key]) => valueText(c, key));
    for (const [name, v] of this.extraEntries(c)) parts.push(`${name}\u0002${v}`);
    return parts.join('\u0001');
  }

  /**
   * The columns whose values differ, each named by the feed's header (`names`) where it has
   * one, else by its field.
   */
  differences(
    ours: RawCdr,
    theirs: RawCdr,
    names: Partial<Record<Field, string>>,
  ): Array<{ column: string; kafka: string; other: string }> {
    const out: Array<{ column: string; kafka: string; other: string }> = [];
    for (const [field, key] of this.fields) {
      const a = valueText(ours, key);
      const b = valueText(theirs, key);
      if (a !== b) out.push({ column: names[field] ?? field, kafka: a, other: b });
    }
    const a = new Map(this.extraEntries(ours));
    const b = new Map(this.extraEntries(theirs));
    for (const name of [...new Set([...a.keys(), ...b.keys()])].sort()) {
      const x = a.get(name) ?? '';
      const y = b.get(name) ?? '';
      if (x !== y) out.push({ column: name, kafka: x, other: y });
    }
    return out;
  }

  /** A CDR's extra columns compared, sorted by name. */
  private extraEntries(c: RawCdr): Array<[string, string]> {
    return Object.entries(c.extra ?? {})
      .filter(([name]) => !this.extras.has(norm(name)))
      .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
  }
}

function valueText(c: RawCdr, key: keyof RawCdr): string {
  if (key === 'cost') return bytesToDecimalString(c.cost);
  if (key === 'start_time') return new Date(c.start_time).toISOString();
  const v = c[key];
  return v === null || v === undefined ? '' : String(v);
}
